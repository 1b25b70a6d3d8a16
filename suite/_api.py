"""The public functions: normalise and check the inputs, then call a registered kernel."""
from __future__ import annotations

import numpy as np

from suite import _arguments
from suite.registry import ACTIVATIONS, CONV_POOL, FEATURE_MAP, POOL

__all__ = ["feature_map", "pool", "conv_pool"]

_FLOAT32 = np.dtype(np.float32)
_FLOAT64 = np.dtype(np.float64)


def _real_array(name, a):
    a = np.asarray(a)
    if a.dtype.kind not in "iuf":
        raise TypeError(f"{name} must hold real numbers (a float or integer dtype), "
                        f"got dtype {a.dtype}")
    return a


def _choice(name, value, valid):
    if not isinstance(value, str) or value not in valid:
        raise ValueError(f"unknown {name} {value!r}; valid names: {', '.join(valid)}")
    return value


def _conv_inputs(x, weights, bias):
    """Check shapes and dtypes.

    Returns C-contiguous x as (batch, n, d), weights and bias, all of the compute dtype,
    and whether x was batched.
    """
    x = _real_array("x", x)
    weights = _real_array("weights", weights)
    if x.ndim not in (2, 3):
        raise ValueError(f"x must have shape (n, d) or (batch, n, d), got shape {x.shape}")
    if weights.ndim != 3:
        raise ValueError(f"weights must have shape (channels, h, w), got shape {weights.shape}")
    if bias is not None:
        bias = _real_array("bias", bias)
        if bias.shape != weights.shape[:1]:
            raise ValueError(f"bias must have shape ({weights.shape[0]},) to match weights of "
                             f"shape {weights.shape}, got shape {bias.shape}")
    n, d = x.shape[-2:]
    channels, h, w = weights.shape
    if h < 1 or w < 1:
        raise ValueError(f"weights must have filters of at least 1x1, got shape {weights.shape}")
    if h > n or w > d:
        raise ValueError(f"weights of shape {weights.shape} have filters of {h}x{w}, larger "
                         f"than x of shape {x.shape} ((n, d) = ({n}, {d})); need h <= n and w <= d")
    single = x.dtype == _FLOAT32 and weights.dtype == _FLOAT32 and (
        bias is None or bias.dtype == _FLOAT32)
    dtype = _FLOAT32 if single else _FLOAT64
    x3 = np.ascontiguousarray(x if x.ndim == 3 else x[None], dtype=dtype)
    weights = np.ascontiguousarray(weights, dtype=dtype)
    bias = np.zeros(channels, dtype) if bias is None else np.ascontiguousarray(bias, dtype=dtype)
    return x3, weights, bias, x.ndim == 3


def _pool_param(method, k, chunks, positions):
    """Check the pooling arguments; return (k or chunks or 0, values per channel)."""
    _choice("method", method, POOL)
    if method != "kmax" and k is not None:
        raise ValueError(f"k is only used with method='kmax', not method={method!r}")
    if method != "chunk_max" and chunks is not None:
        raise ValueError(f"chunks is only used with method='chunk_max', not method={method!r}")
    if method in ("max", "avg"):
        return 0, None
    name, value = ("k", k) if method == "kmax" else ("chunks", chunks)
    if value is None:
        raise ValueError(f"method={method!r} needs {name}")
    value = _arguments.integer(name, value)
    if not 1 <= value <= positions:
        raise ValueError(f"{name} must be between 1 and the {positions} positions of each "
                         f"feature map, got {name}={value}")
    return value, value


def feature_map(x, weights, bias=None, *, variant="auto", n_threads=None):
    """Feature maps of a text-CNN convolution layer.

    For every channel ``c`` this is ``scipy.signal.correlate2d(x, weights[c],
    mode="valid") + bias[c]``: a cross-correlation (the filter is not flipped).

    Parameters
    ----------
    x : array_like, shape (n, d) or (batch, n, d)
        Sentence matrices: n words (rows) by d embedding dimensions.
    weights : array_like, shape (channels, h, w)
        Filters spanning h words and w dimensions; ``w == d`` is the usual text-CNN
        filter, but any ``h <= n``, ``w <= d`` works.
    bias : array_like, shape (channels,), optional
        One bias per channel; zero if omitted.
    variant : str, optional
        A name from ``suite.variants()["feature_map"]``; ``"auto"`` picks by shape.
    n_threads : int, optional
        Threads for the variants that use OpenMP.  Default: OpenMP's current limit,
        ``omp_get_max_threads()``, which follows ``OMP_NUM_THREADS`` and
        ``threadpoolctl.threadpool_limits(user_api="openmp")``.  A call never starts more
        threads than it has tasks, so any positive value is safe.

    Returns
    -------
    ndarray, shape (channels, n-h+1, d-w+1) or (batch, channels, n-h+1, d-w+1)
        float32 when every input is float32, float64 otherwise.

    Raises
    ------
    ValueError
        On shapes that do not fit or an unknown ``variant``.
    TypeError
        On complex, bool, object or string inputs.

    Examples
    --------
    >>> import numpy as np, suite
    >>> x = np.arange(12.0).reshape(4, 3)
    >>> suite.feature_map(x, np.ones((1, 2, 3)), [0.5])
    array([[[15.5],
            [33.5],
            [51.5]]])
    """
    _choice("variant", variant, FEATURE_MAP)
    threads = _arguments.threads(n_threads)
    x3, weights, bias, batched = _conv_inputs(x, weights, bias)
    (batch, n, d), (channels, h, w) = x3.shape, weights.shape
    out = np.empty((batch, channels, n - h + 1, d - w + 1), x3.dtype)
    if out.size:
        FEATURE_MAP[variant].run(x3, weights, bias, out, threads)
    return out if batched else out[0]


def pool(fmap, method="max", *, k=None, chunks=None):
    """Pool each channel's feature map over its positions.

    The positions are the last two axes flattened row-major; with full-width filters
    that is the time axis, and ``"max"`` is max-over-time pooling.

    Parameters
    ----------
    fmap : array_like, shape (..., channels, rows, cols)
        Feature maps, as ``feature_map`` returns them.
    method : {"max", "avg", "kmax", "chunk_max"}
        ``"kmax"`` keeps the k largest values in their original order (the earlier
        position wins among equals); ``"chunk_max"`` splits the positions into
        ``chunks`` pieces as ``numpy.array_split`` does and keeps each piece's max.
    k : int, optional
        For ``"kmax"``: 1 <= k <= rows * cols.
    chunks : int, optional
        For ``"chunk_max"``: 1 <= chunks <= rows * cols.

    Returns
    -------
    ndarray
        ``(..., channels)`` for max and avg, ``(..., channels, k)`` for kmax,
        ``(..., channels, chunks)`` for chunk_max.  A NaN in a window gives NaN.
    """
    fmap = _real_array("fmap", fmap)
    if fmap.ndim < 3:
        raise ValueError(f"fmap must have shape (..., channels, rows, cols), got shape "
                         f"{fmap.shape}")
    positions = fmap.shape[-2] * fmap.shape[-1]
    if positions == 0:
        raise ValueError(f"fmap of shape {fmap.shape} has no positions to pool")
    param, width = _pool_param(method, k, chunks, positions)
    dtype = _FLOAT32 if fmap.dtype == _FLOAT32 else _FLOAT64
    lead = fmap.shape[:-2]
    shape = lead if width is None else lead + (width,)
    flat = fmap.reshape(-1, positions)
    if flat.dtype != dtype or not flat.flags.c_contiguous:
        flat = np.ascontiguousarray(flat, dtype=dtype)
    out = np.empty(shape, dtype)
    if flat.shape[0]:
        POOL[method].run(flat, param, out.reshape(flat.shape[0], -1))
    return out


def conv_pool(x, weights, bias=None, *, activation="identity", method="max", k=None,
              chunks=None, variant="auto", n_threads=None):
    """Convolution, activation and pooling in one pass.

    Equal to ``pool(act(feature_map(x, weights, bias)), method, k=k, chunks=chunks)``,
    computed tile by tile so that the feature maps of a whole batch are never held in
    memory at once.

    Parameters
    ----------
    x, weights, bias, variant, n_threads
        As for :func:`feature_map`.
    activation : {"identity", "relu", "selu", "tanh"}
        SELU uses lambda = 1.0507009873554805 and alpha = 1.6732632423543772.
    method, k, chunks
        As for :func:`pool`.

    Returns
    -------
    ndarray
        ``(channels,)`` (or ``(channels, k)``, ``(channels, chunks)``) per sentence, with
        a leading batch axis when ``x`` is batched.
    """
    _choice("variant", variant, CONV_POOL)
    _choice("activation", activation, ACTIVATIONS)
    threads = _arguments.threads(n_threads)
    x3, weights, bias, batched = _conv_inputs(x, weights, bias)
    (batch, n, d), (channels, h, w) = x3.shape, weights.shape
    param, width = _pool_param(method, k, chunks, (n - h + 1) * (d - w + 1))
    out = np.empty((batch * channels, width or 1), x3.dtype)
    if out.size:
        CONV_POOL[variant].run(x3, weights, bias, out, activation, method, param, threads)
    shape = (batch, channels) if width is None else (batch, channels, width)
    out = out.reshape(shape)
    return out if batched else out[0]
