"""Type stubs for the compiled fused kernel (``pyx/suite/_fused.pyx``)."""
from typing import Dict

import numpy as np
import numpy.typing as npt

_Array = npt.NDArray[np.floating]

CONVS: Dict[str, int]
ACTIVATIONS: Dict[str, int]
METHODS: Dict[str, int]

def conv_pool(x: _Array, w: _Array, bias: _Array, out: _Array, conv: int, activation: int,
              method: int, param: int, n_threads: int) -> None: ...
