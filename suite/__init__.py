"""Cython kernels for the feature maps and pooling of a sentence-classification CNN.

``feature_map`` computes valid 2-D cross-correlations of sentence matrices with a bank of
filters plus a bias; ``pool`` pools each map over its positions; ``conv_pool`` does both,
with an activation in between, without holding the feature maps of a batch in memory.
Each comes in several registered variants (``variants()``), all tested against the
scipy.signal / NumPy references in ``suite.reference``.  ``TextCNN`` runs the whole
sentence classifier the kernels come from, in compiled code; ``TextCNN.load`` rejects a
file that ``TextCNN.save`` could not have written with a ``ModelFileError``.
"""
import importlib

from suite._api import conv_pool, feature_map, pool
from suite.model import TextCNN
from suite.modelfile import ModelFileError
from suite.registry import variants

__all__ = ["feature_map", "pool", "conv_pool", "variants", "TextCNN", "ModelFileError",
           "reference"]
__version__ = "0.1.0"


def __getattr__(name):
    # scipy.signal takes most of a second to import; only the references need it.
    if name == "reference":
        return importlib.import_module("suite.reference")
    raise AttributeError(f"module 'suite' has no attribute {name!r}")
