# The Cython kernels that are compiled once per instruction set: the register tiles of
# _tiles.pxi (vectorised by the C compiler along filter rows, for text-CNN filters), the
# direct convolution of _direct.pxi (explicit vectors along output positions, for small
# 2-D filters) and the packed-weight kernel of _packed.pxi (explicit vectors along the
# channels, for suite.TextCNN).  Included by _kernels.pyx, _kernels_avx2.pyx and
# _kernels_avx512.pyx, which differ only in the flags setup.py compiles them with.
from cpython.pycapsule cimport PyCapsule_New
from cython cimport floating

from suite._kernels_api cimport KERNELS_CAPSULE, Kernels

include "_vectors.pxi"
include "_tiles.pxi"
include "_direct.pxi"
include "_packed.pxi"

cdef Kernels TABLE
TABLE.tiles_f64 = tiles[double]
TABLE.tiles_f32 = tiles[float]
TABLE.direct_f64 = direct[double]
TABLE.direct_f32 = direct[float]
TABLE.packed_f64 = packed[double]
TABLE.packed_f32 = packed[float]

#: The kernels of this build, for suite._conv (a capsule of a ``Kernels`` table).
KERNELS = PyCapsule_New(&TABLE, KERNELS_CAPSULE, NULL)

#: The widest vector the direct kernel uses in this build, in bytes.
VECTOR_BYTES = SUITE_VECTOR_BYTES
