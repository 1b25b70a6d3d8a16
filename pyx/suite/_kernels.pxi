# The kernels that are compiled once per instruction set: the register tiles of
# _tiles.pxi (Cython, vectorised by the C compiler along filter rows, for text-CNN
# filters), the direct convolution of _direct.pxi (Cython, explicit vectors along output
# positions, for small 2-D filters), the packed-weight kernel of _packed.pxi (Cython,
# explicit vectors along the channels, for suite.TextCNN), the reductions of the pooling
# kernels of _reduce.pxi (Cython, explicit vectors along the positions), the direct
# convolution with its max or sum fused in of _direct_pool.pxi (for suite._conv_pool), the
# activations of a whole map of _activate.pxi (vector tanh and expm1 from libmvec), the
# transposition in vector registers of _transpose.pxi (the packed kernel's inputs and
# outputs) and the C tiles of _simd.h, the rival the Cython tiles are measured against.  The .pxi
# files and _simd.h are rendered from Tempita templates by setup.py.  Included by
# _kernels.pyx, _kernels_avx2.pyx and _kernels_avx512.pyx, which differ only in the flags
# setup.py compiles them with; suite._runtime imports the widest build the CPU runs.
from cpython.pycapsule cimport PyCapsule_New
from cython cimport floating

from suite._kernels_api cimport (KERNELS_CAPSULE, POOLED_MAX, POOLED_RELU_SUM, POOLED_SUM,
                                 Kernels, Pooled)

cdef extern from "_simd.h" nogil:
    void suite_simd_f64(const double* w, Py_ssize_t channels, Py_ssize_t h, Py_ssize_t wd,
                        const double* x, Py_ssize_t d, Py_ssize_t m, Py_ssize_t p,
                        const double* bias, double* out, Py_ssize_t ldo)
    void suite_simd_f32(const float* w, Py_ssize_t channels, Py_ssize_t h, Py_ssize_t wd,
                        const float* x, Py_ssize_t d, Py_ssize_t m, Py_ssize_t p,
                        const float* bias, float* out, Py_ssize_t ldo)

include "_vectors.pxi"
include "_tiles.pxi"
include "_direct.pxi"
include "_packed.pxi"
include "_reduce.pxi"
include "_direct_pool.pxi"
include "_activate.pxi"
include "_transpose.pxi"

cdef Kernels TABLE
TABLE.tiles_f64 = tiles[double]
TABLE.tiles_f32 = tiles[float]
TABLE.simd_f64 = suite_simd_f64
TABLE.simd_f32 = suite_simd_f32
TABLE.direct_f64 = direct_f64
TABLE.direct_f32 = direct_f32
TABLE.packed_f64 = packed_f64
TABLE.packed_f32 = packed_f32
TABLE.max_f64 = max_f64
TABLE.max_f32 = max_f32
TABLE.sum_f64 = sum_f64
TABLE.sum_f32 = sum_f32
TABLE.direct_pool_f64 = direct_pool_f64
TABLE.direct_pool_f32 = direct_pool_f32
TABLE.activate_f64 = activate_f64
TABLE.activate_f32 = activate_f32
TABLE.transpose_f64 = transpose_f64
TABLE.transpose_f32 = transpose_f32

#: The kernels of this build, for suite._runtime (a capsule of a ``Kernels`` table).
KERNELS = PyCapsule_New(&TABLE, KERNELS_CAPSULE, NULL)

#: The widest vector the explicit-vector kernels use in this build, in bytes.
VECTOR_BYTES = SUITE_VECTOR_BYTES
#: Whether this build's activations call libmvec's vector tanh and expm1.
LIBMVEC = bool(SUITE_LIBMVEC)
