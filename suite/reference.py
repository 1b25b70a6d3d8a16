"""The references every kernel variant is tested against: scipy.signal and NumPy.

These are written for clarity, not speed: one ``scipy.signal`` call per channel (and
sentence), and NumPy expressions that follow the definition of each pooling method.
"""
import numpy as np
from scipy import signal

__all__ = ["feature_map", "feature_map_fft", "feature_map_magnitude", "pool", "activate",
           "conv_pool", "text_cnn", "TOLERANCE", "close", "assert_close", "SELU_LAMBDA",
           "SELU_ALPHA"]

SELU_LAMBDA = 1.0507009873554805
SELU_ALPHA = 1.6732632423543772


def _bias(weights, bias):
    return np.zeros(weights.shape[0]) if bias is None else np.asarray(bias)


def feature_map(x, weights, bias=None):
    """``scipy.signal.correlate2d(x, weights[c], mode="valid") + bias[c]`` for every channel.

    ``x`` is ``(n, d)`` or ``(batch, n, d)``; the result is ``(channels, n-h+1, d-w+1)``
    or ``(batch, channels, n-h+1, d-w+1)``.
    """
    x = np.asarray(x)
    weights = np.asarray(weights)
    bias = _bias(weights, bias)
    if x.ndim == 3:
        return np.stack([feature_map(s, weights, bias) for s in x]) if len(x) else \
            np.empty((0, len(weights), x.shape[1] - weights.shape[1] + 1,
                      x.shape[2] - weights.shape[2] + 1))
    maps = [signal.correlate2d(x, w, mode="valid") + b for w, b in zip(weights, bias)]
    if not maps:
        return np.empty((0, x.shape[0] - weights.shape[1] + 1, x.shape[1] - weights.shape[2] + 1))
    return np.stack(maps)


def feature_map_fft(x, weights, bias=None):
    """The same maps in one ``scipy.signal.fftconvolve`` call over the last two axes.

    Correlation is convolution with the filter flipped along both axes.
    """
    x = np.asarray(x)
    weights = np.asarray(weights)
    bias = _bias(weights, bias)
    flipped = weights[:, ::-1, ::-1]
    if x.ndim == 3:                       # (batch, 1, n, d) against (1, channels, h, w)
        x, flipped = x[:, None], flipped[None]
    else:                                 # (1, n, d) against (channels, h, w)
        x = x[None]
    full = signal.fftconvolve(x, flipped, mode="valid", axes=(-2, -1))
    return full + bias[:, None, None]


def activate(fmap, activation="identity"):
    """The activation functions, element-wise; NaN goes through unchanged."""
    fmap = np.asarray(fmap)
    if activation == "identity":
        return fmap
    if activation == "relu":
        return np.maximum(fmap, 0)
    if activation == "selu":
        with np.errstate(over="ignore"):
            return np.where(fmap > 0, SELU_LAMBDA * fmap,
                            SELU_LAMBDA * SELU_ALPHA * np.expm1(np.minimum(fmap, 0)))
    if activation == "tanh":
        return np.tanh(fmap)
    raise ValueError(f"unknown activation {activation!r}")


def _kmax_order(rows, k):
    """Positions of the k highest-ranked values of each row, in position order.

    Larger ranks higher, NaN above every number, and among equals the earlier position.
    """
    positions = np.broadcast_to(np.arange(rows.shape[-1]), rows.shape)
    isnan = np.isnan(rows)
    descending = np.where(isnan, 0, -rows)
    order = np.lexsort((positions, descending, ~isnan), axis=-1)
    return np.sort(order[..., :k], axis=-1)


def pool(fmap, method="max", *, k=None, chunks=None):
    """Pool over the positions of each map (the last two axes, flattened row-major)."""
    fmap = np.asarray(fmap)
    flat = fmap.reshape(fmap.shape[:-2] + (-1,))
    if method == "max":
        return flat.max(axis=-1)
    if method == "avg":
        return flat.mean(axis=-1)
    if method == "kmax":
        return np.take_along_axis(flat, _kmax_order(flat, k), axis=-1)
    if method == "chunk_max":
        pieces = np.array_split(flat, chunks, axis=-1)
        return np.stack([piece.max(axis=-1) for piece in pieces], axis=-1)
    raise ValueError(f"unknown method {method!r}")


def conv_pool(x, weights, bias=None, *, activation="identity", method="max", k=None,
              chunks=None):
    """``pool(activate(feature_map(x, weights, bias)))``."""
    return pool(activate(feature_map(x, weights, bias), activation), method, k=k, chunks=chunks)


# -- what "equal to the reference" means ---------------------------------------------------

#: Relative tolerance of a kernel's result against the reference, per result dtype.  An
#: error is relative to the scale of its sums: the sum of the absolute values of the terms
#: behind each output when it is known (``feature_map_magnitude``; a long dot product may
#: lose as many digits to rounding as it has terms), else the largest magnitude of the
#: reference (at least 1), so that outputs near zero after cancellation are not held to a
#: relative error they cannot have.
TOLERANCE = {"float64": 1e-10, "float32": 1e-4}


def feature_map_magnitude(x, weights, bias=None):
    """The sum of ``|term|`` behind every output of ``feature_map``: the scale of its rounding."""
    x = np.abs(np.asarray(x, dtype=np.float64))
    weights = np.abs(np.asarray(weights, dtype=np.float64))
    with np.errstate(invalid="ignore"):
        return feature_map(x, weights, np.abs(_bias(weights, bias)).astype(np.float64))


def _compare(got, want, dtype, magnitude):
    """``None`` when ``got`` equals ``want`` within ``TOLERANCE``, else why not."""
    got = np.asarray(got, dtype=np.float64)
    want = np.asarray(want, dtype=np.float64)
    if got.shape != want.shape:
        return f"shape {got.shape}, expected {want.shape}"
    # NaN where the reference has NaN, and the same infinities: exactly.
    if not np.array_equal(np.isnan(got), np.isnan(want)):
        return "NaN in other places than in the reference"
    inf = np.isinf(want)
    if not np.array_equal(got[inf], want[inf]) or np.isinf(got[~inf]).any():
        return "infinities differ from the reference's"
    finite = np.isfinite(want)
    if magnitude is None:
        scale = max(float(np.max(np.abs(want[finite]))), 1.0) if finite.any() else 1.0
    else:
        finite &= np.isfinite(np.broadcast_to(magnitude, want.shape))
        scale = np.asarray(np.broadcast_to(magnitude, want.shape), dtype=np.float64)[finite]
    error = np.abs(got[finite] - want[finite])
    bound = TOLERANCE[np.dtype(dtype).name] * scale
    if error.size and not np.all(error <= bound):
        worst = int(np.argmax(error - bound))
        bound_w = bound if np.ndim(bound) == 0 else bound[worst]
        return (f"error {error[worst]:.3g} above the bound {bound_w:.3g} (value "
                f"{got[finite][worst]!r}, expected {want[finite][worst]!r})")
    return None


def close(got, want, dtype, magnitude=None) -> bool:
    """Whether a kernel's result ``got`` equals the reference ``want`` for a ``dtype`` kernel.

    Parameters
    ----------
    got, want : array_like
        The result and the reference (computed in float64).
    dtype : str or dtype
        The dtype the kernel computed in, which sets the tolerance (``TOLERANCE``).
    magnitude : array_like, optional
        The sum of ``|term|`` behind each output (``feature_map_magnitude``); without it
        errors are relative to the largest ``|want|`` (at least 1).

    Returns
    -------
    bool
        Same shape, NaN and infinities exactly where ``want`` has them, and every finite
        error within ``TOLERANCE[dtype]`` of its scale.

    Examples
    --------
    >>> close([1.0, np.nan], [1.0 + 1e-12, np.nan], "float64")
    True
    >>> close([1.001], [1.0], "float32")
    False
    """
    return _compare(got, want, dtype, magnitude) is None


def assert_close(got, want, dtype, magnitude=None):
    """As :func:`close`, raising ``AssertionError`` that says where and by how much."""
    why = _compare(got, want, dtype, magnitude)
    if why is not None:
        raise AssertionError(why)


def text_cnn(embeddings, filters, classifier, tokens, lengths=None, *, columns=None,
             positional=True, activation="selu"):
    """The text-CNN classifier of ``suite.TextCNN``, sentence by sentence, in float64.

    Row ``t`` of a sentence's matrix concatenates ``embeddings[i][tokens[t, columns[i]]]``
    over the tables, plus (with ``positional``) ``PE[t, 2j] = sin(t / 10000**(2j / D))``,
    ``PE[t, 2j + 1] = cos(t / 10000**(2j / D))``.  Bank ``j`` sees the matrix padded with
    zero rows up to ``h_j`` rows; filter ``c``'s feature is the max over its windows of
    ``act(correlate2d(X, W_j[c], "valid") + b_j[c])``; ``logits = features @ Wc.T + bc``.

    Returns
    -------
    features : ndarray, ``(batch, F)``
    logits : ndarray, ``(batch, classes)``
    """
    import math

    tables = [np.asarray(t, np.float64) for t in embeddings]
    columns = list(range(len(tables))) if columns is None else list(columns)
    tokens = np.asarray(tokens)
    if tokens.ndim == 2:
        tokens = tokens[None]
    lengths = [tokens.shape[1]] * len(tokens) if lengths is None else list(np.ravel(lengths))
    d = sum(t.shape[1] for t in tables)
    features = []
    for ids, length in zip(tokens, lengths):
        x = np.array([np.concatenate([table[ids[t, col]] for table, col in zip(tables, columns)])
                      for t in range(length)])
        if positional:
            for t in range(length):
                for k in range(d):
                    angle = t / 10000 ** ((k - k % 2) / d)
                    x[t, k] += math.sin(angle) if k % 2 == 0 else math.cos(angle)
        pooled = []
        for weights, bias in filters:
            weights = np.asarray(weights, np.float64)
            h = weights.shape[1]
            padded = np.vstack([x, np.zeros((max(h - length, 0), d))])
            for w, b in zip(weights, np.asarray(bias, np.float64)):
                windows = signal.correlate2d(padded, w, mode="valid")[:, 0] + b
                pooled.append(activate(windows, activation).max())
        features.append(pooled)
    features = np.array(features, np.float64).reshape(len(tokens), -1)
    weights, bias = (np.asarray(a, np.float64) for a in classifier)
    return features, features @ weights.T + bias
