"""Type stubs for the compiled fused kernel (``pyx/suite/_conv_pool.pyx``)."""
import enum

import numpy as np
import numpy.typing as npt

from suite._conv import Core
from suite._pool import Method
from typing_extensions import TypeAlias

_Array: TypeAlias = npt.NDArray[np.floating]

class Activation(enum.IntEnum):
    IDENTITY = 0
    RELU = 1
    SELU = 2
    TANH = 3

def conv_pool(x: _Array, w: _Array, bias: _Array, out: _Array, core: Core,
              activation: Activation, method: Method, param: int, n_threads: int) -> int: ...
