"""Type stubs for the compiled feature-map kernels (``pyx/suite/_conv.pyx``).

The kernel takes C-contiguous arrays of one floating dtype (float32 or float64) and fills
``out`` in place; ``suite.feature_map`` prepares them.
"""
import enum

import numpy as np
import numpy.typing as npt

_Array = npt.NDArray[np.floating]

class Core(enum.IntEnum):
    """The serial feature-map cores (``cpdef enum Core`` in ``_conv.pxd``)."""
    LOOPS = 0
    SEED = 1
    TILES = 2
    SIMD = 3
    BLAS = 4
    DIRECT = 5

#: The build of the Cython kernels in use: ``"avx512"``, ``"avx2+fma"`` or ``"baseline"``.
ISA: str
#: The width of the direct kernel's vectors in that build, in bytes: 64, 32 or 16.
VECTOR_BYTES: int

def omp_max_threads() -> int: ...
def feature_map(x: _Array, w: _Array, bias: _Array, out: _Array, core: Core,
                n_threads: int) -> int: ...
