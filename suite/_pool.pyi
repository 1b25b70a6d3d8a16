"""Type stubs for the compiled pooling kernels (``pyx/suite/_pool.pyx``).

``pool`` pools every row of a C-contiguous ``(rows, positions)`` array into ``out``.
"""
import enum

import numpy as np
import numpy.typing as npt
from typing_extensions import TypeAlias

_Array: TypeAlias = npt.NDArray[np.floating]

class Method(enum.IntEnum):
    """The pooling methods (``cpdef enum Method`` in ``_pool.pxd``)."""
    MAX = 0
    AVG = 1
    KMAX = 2
    CHUNK_MAX = 3

def pool(fmap: _Array, out: _Array, method: Method, work: npt.NDArray[np.intp]) -> None: ...
