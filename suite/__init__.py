"""Cython kernels for the feature maps and pooling of a sentence-classification CNN.

``feature_map`` computes valid 2-D cross-correlations of sentence matrices with a bank of
filters plus a bias; ``pool`` pools each map over its positions; ``conv_pool`` does both,
with an activation in between, without holding the feature maps of a batch in memory.
Each comes in several registered variants (``variants()``), all tested against the
scipy.signal / NumPy references in ``suite.reference``.
"""
from suite import reference
from suite._api import conv_pool, feature_map, pool
from suite.registry import variants

__all__ = ["feature_map", "pool", "conv_pool", "variants", "reference"]
__version__ = "0.1.0"
