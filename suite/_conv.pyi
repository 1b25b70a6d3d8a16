"""Type stubs for the compiled feature-map kernels (``pyx/suite/_conv.pyx``).

The kernel takes C-contiguous arrays of one floating dtype (float32 or float64) and fills
``out`` in place; ``suite.feature_map`` prepares them.
"""
import enum

import numpy as np
import numpy.typing as npt
from typing_extensions import TypeAlias

_Array: TypeAlias = npt.NDArray[np.floating]

class Core(enum.IntEnum):
    """The serial feature-map cores (``cpdef enum Core`` in ``_conv.pxd``)."""
    LOOPS = 0
    SEED = 1
    TILES = 2
    SIMD = 3
    BLAS = 4
    DIRECT = 5
    PACKED = 6

def feature_map(x: _Array, w: _Array, bias: _Array, out: _Array, core: Core,
                n_threads: int) -> int: ...

def pack_filters(w: _Array, packed: _Array, lanes: int) -> None: ...
