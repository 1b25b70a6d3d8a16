"""Type stubs for the compiled forward of ``suite.TextCNN`` (``pyx/suite/_model.pyx``)."""
from typing import Optional, Tuple, Union

import numpy as np
import numpy.typing as npt

from suite._conv_pool import Activation
from typing_extensions import TypeAlias, disjoint_base

_Array: TypeAlias = npt.NDArray[np.floating]
_Index: TypeAlias = npt.NDArray[np.intp]

@disjoint_base
class Network:
    single: bool
    n_features: int
    def __init__(self, tables: _Array, table_offset: _Index, table_dim: _Index,
                 table_column: _Index, vocab: _Index, weights: _Array, bank_offset: _Index,
                 bank_h: _Index, bank_channels: _Index, bank_padded: _Index, bias: _Array,
                 activation: Activation, dense_weights: _Array,
                 dense_bias: _Array) -> None: ...
    def splits(self, length: int, n_threads: int) -> bool: ...
    def forward(self, tokens: _Index, lengths: _Index, pe: _Array, features: _Array,
                logits: _Array, n_threads: int
                ) -> Optional[Union[Tuple[str, int, int], Tuple[str, int, int, int, int]]]: ...
