"""The peers the kernels are timed against besides scipy.signal: PyTorch, when installed."""
from __future__ import annotations

import importlib
from typing import Callable

import numpy as np

__all__ = ["torch_or_none", "torch_calls"]


def torch_or_none():
    """The ``torch`` module, or None when PyTorch is not installed."""
    try:
        return importlib.import_module("torch")
    except ImportError:
        return None


def torch_calls(torch, x: np.ndarray, banks) -> Callable[[], list]:
    """A function making a workload's calls in PyTorch: one per bank of ``banks``.

    ``conv1d`` over (batch, d, n) for full-width banks, ``conv2d`` otherwise.

    Inputs are converted to PyTorch's layout before timing, as a model keeps them.
    """
    f = torch.nn.functional
    calls = []
    for weights, bias in banks:
        tb = torch.from_numpy(bias)
        if weights.shape[2] == x.shape[2]:
            tx = torch.from_numpy(np.ascontiguousarray(x.transpose(0, 2, 1)))
            tw = torch.from_numpy(np.ascontiguousarray(weights.transpose(0, 2, 1)))
            calls.append((f.conv1d, tx, tw, tb))
        else:
            calls.append((f.conv2d, torch.from_numpy(x[:, None]),
                          torch.from_numpy(np.ascontiguousarray(weights[:, None])), tb))

    def run():
        with torch.no_grad():
            return [conv(tx, tw, tb) for conv, tx, tw, tb in calls]
    return run


