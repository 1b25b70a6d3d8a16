"""``TextCNN``: the sentence classifier of Kim (2014), as the smart speaker runs it.

A sentence of token ids becomes a matrix: each row concatenates one vector per embedding
table (GloVe, task-local word vectors, entity tags, part-of-speech tags), plus a sinusoidal
positional encoding.  Banks of filters spanning the whole embedding and a few words slide
over it; each filter's feature map is activated and max-pooled to one feature; a dense
layer turns the features into class logits.  The whole forward of a batch runs in
``suite._model`` with the GIL released; ``suite.reference.text_cnn`` is what it is tested
against.
"""
from __future__ import annotations

import threading
from typing import Optional, Tuple

import numpy as np

from suite import _arguments, _conv, _model, _runtime
from suite.modelfile import MAX_COLUMN, read_model, write_model
from suite.registry import ACTIVATIONS

__all__ = ["TextCNN", "positional_encoding", "pack_filters"]


def positional_encoding(n: int, d: int, dtype="float64") -> np.ndarray:
    """The sinusoidal encoding of positions ``0 .. n-1`` in ``d`` dimensions.

    ``PE[t, 2j] = sin(t / 10000**(2j / d))`` and ``PE[t, 2j + 1] = cos(t / 10000**(2j / d))``
    (Vaswani et al. 2017), computed in float64.
    """
    positions = np.arange(n, dtype=np.float64)[:, None]
    rates = 10000.0 ** (-(np.arange(d) // 2 * 2) / d)
    angles = positions * rates
    pe = np.where(np.arange(d) % 2 == 0, np.sin(angles), np.cos(angles))
    return pe.astype(dtype)


def pack_filters(weights: np.ndarray, lanes: int) -> np.ndarray:
    """Full-width filters laid out for the packed kernel of ``suite.TextCNN``.

    Parameters
    ----------
    weights : ndarray, shape (channels, h, d)
        One bank.
    lanes : int
        Values per vector in the kernels' build: ``suite._runtime.VECTOR_BYTES`` over the
        item size.

    Returns
    -------
    ndarray, shape (channels * h * d + lanes,)
        Blocks of ``2 * lanes`` channels, then one of ``lanes`` and one of fewer as the
        count requires; the block of ``width`` channels from ``c0`` starts at
        ``c0 * h * d`` and is the row-major ``(h * d, width)`` matrix whose row
        ``b * h + a`` holds tap ``(a, b)`` of its filters (the kernel walks the h rows of
        one column of the transposed sentence together).  ``lanes`` zeros follow: the
        kernel reads the narrowest block a whole vector at a time.

    Raises
    ------
    TypeError
        If ``weights`` is not a float32 or float64 array, or ``lanes`` not an integer.
    ValueError
        If ``weights`` is not 3-D with a tap, or ``lanes`` is below 1.

    Examples
    --------
    >>> w = np.arange(9.0).reshape(3, 1, 3)   # 3 filters of 1 x 3
    >>> pack_filters(w, 2)                    # a block of 2 channels, then one of 1
    array([0., 3., 1., 4., 2., 5., 6., 7., 8., 0., 0.])
    """
    weights = np.asarray(weights)
    if weights.dtype not in (np.float32, np.float64):
        raise TypeError(f"weights must be float32 or float64, got dtype {weights.dtype}")
    if weights.ndim != 3 or 0 in weights.shape:
        raise ValueError(f"weights must have shape (channels, h, d) with channels, h and "
                         f"d at least 1, got shape {weights.shape}")
    lanes = _arguments.integer("lanes", lanes)
    if lanes < 1:
        raise ValueError(f"lanes must be at least 1, got lanes={lanes}")
    weights = np.ascontiguousarray(weights)
    packed = np.empty(weights.size + lanes, weights.dtype)
    # The layout is written once, in Cython: fmap_packed packs with it on every call.
    _conv.pack_filters(weights, packed, lanes)
    return packed


def _real(name: str, value) -> np.ndarray:
    array = np.asarray(value)
    if array.dtype.kind not in "iuf":
        raise TypeError(f"{name} must be a real numeric array, got dtype {array.dtype}")
    return array


def _ids(name: str, value) -> np.ndarray:
    array = np.asarray(value)
    if array.dtype.kind not in "iu":
        raise TypeError(f"{name} must be integer ids, got dtype {array.dtype}")
    return array


_INTP_MAX = np.iinfo(np.intp).max


def _as_intp(array: np.ndarray) -> np.ndarray:
    """``array`` as C-contiguous intp; unsigned values past intp's range become its max.

    Such a value is out of range for every table and every length, so the forward
    reports it (by its original value, read back from ``array``) instead of a wrapped
    negative one.
    """
    if not np.can_cast(array.dtype, np.intp):
        array = np.minimum(array, _INTP_MAX)
    return np.ascontiguousarray(array, np.intp)


class TextCNN:
    """A Kim-2014 sentence classifier over the compiled forward of ``suite._model``.

    Parameters
    ----------
    embeddings : sequence of array_like, each ``(vocab_i, dim_i)``
        The embedding tables; a token's row is the concatenation of one row of each,
        ``D = sum(dim_i)`` wide.
    filters : sequence of (weights, bias)
        One filter bank per window height: ``weights`` ``(channels_j, h_j, D)`` and
        ``bias`` ``(channels_j,)``.
    classifier : (weights, bias)
        ``(classes, sum(channels_j))`` and ``(classes,)``.
    columns : sequence of int, optional
        ``columns[i]`` is the id column of the tokens that indexes table ``i`` (default
        ``i``); tables may share a column (GloVe and task-local word vectors do).
    positional : bool, optional
        Add the sinusoidal positional encoding (:func:`positional_encoding`).
    activation : str, optional
        Any of ``suite.conv_pool``'s activations.

    Notes
    -----
    The weights are copied once, into the compute dtype: float32 when every weight array
    is float32, float64 otherwise.  Results have that dtype.

    Examples
    --------
    >>> import numpy as np, suite
    >>> rng = np.random.default_rng(0)
    >>> model = suite.TextCNN(
    ...     [rng.standard_normal((50, 8)), rng.standard_normal((5, 4))],
    ...     [(rng.standard_normal((6, h, 12)), np.zeros(6)) for h in (2, 3)],
    ...     (rng.standard_normal((3, 12)), np.zeros(3)))
    >>> tokens = np.array([[[7, 1], [3, 0], [9, 4], [0, 0]],
    ...                    [[1, 2], [5, 3], [0, 0], [0, 0]]])    # padded batch
    >>> model.predict(tokens, lengths=[3, 2]).shape
    (2,)
    """

    def __init__(self, embeddings, filters, classifier, *, columns=None, positional=True,
                 activation="selu"):
        tables = [_real(f"embeddings[{i}]", t) for i, t in enumerate(embeddings)]
        if not tables:
            raise ValueError("embeddings must hold at least one table")
        for i, t in enumerate(tables):
            if t.ndim != 2 or t.shape[0] < 1 or t.shape[1] < 1:
                raise ValueError(f"embeddings[{i}] must be a non-empty 2-D (vocab, dim) "
                                 f"array, got shape {t.shape}")
        d = sum(t.shape[1] for t in tables)
        banks = []
        for j, bank in enumerate(filters):
            try:
                weights, bias = bank
            except (TypeError, ValueError):
                raise ValueError(f"filters[{j}] must be a pair (weights, bias)") from None
            weights = _real(f"filters[{j}] weights", weights)
            bias = _real(f"filters[{j}] bias", bias)
            if weights.ndim != 3 or weights.shape[0] < 1 or weights.shape[1] < 1:
                raise ValueError(f"filters[{j}] weights must be (channels, h, D) with "
                                 f"channels, h >= 1, got shape {weights.shape}")
            if weights.shape[2] != d:
                raise ValueError(f"filters[{j}] weights are {weights.shape[2]} wide; a filter "
                                 f"must span the embedding, D = {d}")
            if bias.shape != weights.shape[:1]:
                raise ValueError(f"filters[{j}] bias must have shape ({weights.shape[0]},), "
                                 f"got {bias.shape}")
            banks.append((weights, bias))
        if not banks:
            raise ValueError("filters must hold at least one bank")
        try:
            dense_w, dense_b = classifier
        except (TypeError, ValueError):
            raise ValueError("classifier must be a pair (weights, bias)") from None
        dense_w = _real("classifier weights", dense_w)
        dense_b = _real("classifier bias", dense_b)
        n_features = sum(w.shape[0] for w, _ in banks)
        if dense_w.ndim != 2 or dense_w.shape[1] != n_features or dense_w.shape[0] < 1:
            raise ValueError(f"classifier weights must be (classes, {n_features}) for "
                             f"{n_features} pooled features, got shape {dense_w.shape}")
        if dense_b.shape != dense_w.shape[:1]:
            raise ValueError(f"classifier bias must have shape ({dense_w.shape[0]},), got "
                             f"{dense_b.shape}")
        if columns is None:
            columns = range(len(tables))
        columns = [_arguments.integer(f"columns[{i}]", c) for i, c in enumerate(columns)]
        if len(columns) != len(tables) or not 0 <= min(columns) <= max(columns) <= MAX_COLUMN:
            raise ValueError(f"columns must give one id column per table ({len(tables)}), "
                             f"each from 0 to {MAX_COLUMN}, got {columns}")
        if not isinstance(positional, (bool, np.bool_)):
            raise TypeError(f"positional must be a bool, got {type(positional).__name__} "
                            f"{positional!r}")
        if not isinstance(activation, str) or activation not in ACTIVATIONS:
            raise ValueError(f"unknown activation {activation!r}; valid names: "
                             f"{', '.join(ACTIVATIONS)}")

        arrays = tables + [a for bank in banks for a in bank] + [dense_w, dense_b]
        self.dtype = np.dtype(np.float32 if all(a.dtype == np.float32 for a in arrays)
                              else np.float64)
        self.columns = tuple(columns)
        self.positional = bool(positional)
        self.activation = activation
        self.dim = d
        self.n_features = n_features
        self.n_classes = dense_w.shape[0]
        self.n_id_columns = max(columns) + 1
        # One flat copy of each kind of weight, in the compute dtype, for the kernel; the
        # public attributes are read-only views of it.
        self._tables = np.concatenate([t.astype(self.dtype).ravel() for t in tables])
        self._table_dim = np.array([t.shape[1] for t in tables], np.intp)
        self._vocab = np.array([t.shape[0] for t in tables], np.intp)
        self._table_offset = np.concatenate([[0], np.cumsum(self._vocab * self._table_dim)[:-1]]
                                            ).astype(np.intp)
        self._columns = np.array(columns, np.intp)
        self._weights = np.concatenate([w.astype(self.dtype).ravel() for w, _ in banks])
        self._bank_h = np.array([w.shape[1] for w, _ in banks], np.intp)
        self._bank_channels = np.array([w.shape[0] for w, _ in banks], np.intp)
        self._bank_offset = np.concatenate(
            [[0], np.cumsum(self._bank_channels * self._bank_h * d)[:-1]]).astype(np.intp)
        self._bias = np.concatenate([b.astype(self.dtype).ravel() for _, b in banks])
        # The kernel's copy: each bank packed along the channels for this CPU's vectors.
        lanes = _runtime.VECTOR_BYTES // self.dtype.itemsize
        packed = [pack_filters(w.astype(self.dtype), lanes) for w, _ in banks]
        self._packed = np.concatenate(packed)
        # Each bank's maps are rows of whole vectors: the last vector stores past it.
        self._bank_padded = -(-self._bank_channels // lanes) * lanes
        self._packed_offset = np.concatenate(
            [[0], np.cumsum([p.size for p in packed])[:-1]]).astype(np.intp)
        self._dense_w = np.ascontiguousarray(dense_w, self.dtype)
        self._dense_b = np.ascontiguousarray(dense_b, self.dtype)
        for a in (self._tables, self._weights, self._packed, self._bias, self._dense_w,
                  self._dense_b):
            a.flags.writeable = False
        self._activation = ACTIVATIONS[activation]
        self._pe = np.zeros((0, d), self.dtype)
        self._pe_lock = threading.Lock()
        self._no_encoding = np.zeros((0, d), self.dtype)
        self._network = _model.Network(
            self._tables, self._table_offset, self._table_dim, self._columns, self._vocab,
            self._packed, np.append(self._packed_offset, self._packed.size), self._bank_h,
            self._bank_channels, self._bank_padded, self._bias, self._activation,
            self._dense_w, self._dense_b)

    # -- weights ---------------------------------------------------------------------

    @property
    def embeddings(self) -> list:
        """The embedding tables (read-only views, in the compute dtype)."""
        return [self._tables[o:o + v * w].reshape(v, w) for o, v, w in
                zip(self._table_offset, self._vocab, self._table_dim)]

    @property
    def filters(self) -> list:
        """The filter banks as ``(weights, bias)`` (read-only views)."""
        out, start = [], 0
        for o, c, h in zip(self._bank_offset, self._bank_channels, self._bank_h):
            out.append((self._weights[o:o + c * h * self.dim].reshape(c, h, self.dim),
                        self._bias[start:start + c]))
            start += c
        return out

    @property
    def classifier(self) -> Tuple[np.ndarray, np.ndarray]:
        """The dense layer's ``(weights, bias)`` (read-only)."""
        return self._dense_w, self._dense_b

    # -- the forward -----------------------------------------------------------------

    def _batch(self, tokens, lengths):
        """``(tokens, lengths, single)``: as given, then as the compiled forward reads them.

        Each is returned twice, ``(given, intp)``: the caller's integer array, with a
        batch axis, and its C-contiguous intp copy.  The lengths and ids are checked by
        the compiled forward, in the same pass that reads them (``_forward``).
        """
        tokens = _ids("tokens", tokens)
        single = tokens.ndim == 2
        if tokens.ndim not in (2, 3):
            raise ValueError(f"tokens must be (n, k) for a sentence or (batch, n, k) for a "
                             f"padded batch, got shape {tokens.shape}")
        if single:
            tokens = tokens[None]
        batch, n, k = tokens.shape
        if k != self.n_id_columns:
            raise ValueError(f"tokens must have {self.n_id_columns} id columns (columns="
                             f"{list(self.columns)}), got {k}")
        if n < 1:
            raise ValueError("tokens must hold at least one position")
        if lengths is None:
            lengths = np.full(batch, n, np.intp)
        else:
            lengths = _ids("lengths", lengths)
            if single and lengths.ndim == 0:
                lengths = lengths[None]
            if lengths.shape != (batch,):
                raise ValueError(f"lengths must have shape ({batch},), one per sentence, "
                                 f"got {lengths.shape}")
        return (tokens, _as_intp(tokens)), (lengths, _as_intp(lengths)), single

    def _encoding(self, n):
        """The positional encoding of positions ``0 .. n-1`` (``_forward`` asks only when
        ``positional``).

        The encoding is computed once for as many positions as the longest sentence so
        far (at least 64) and kept.  Any number of threads may ask at once: a longer
        encoding is built whole, under a lock, before it replaces the kept one in one
        assignment, and each call reads ``self._pe`` once, so a call sees either the old
        encoding or the new one, filled.  The rows of a position do not depend on how
        many positions were computed (``positional_encoding``), so neither do results.
        """
        pe = self._pe
        if len(pe) >= n:
            return pe[:n]
        with self._pe_lock:
            pe = self._pe
            if len(pe) < n:
                values = positional_encoding(max(n, 2 * len(pe), 64), self.dim, self.dtype)
                # On a 64-byte boundary, as the kernel's own scratch: the vectorised add
                # of the encoding then does the same work in every process.
                raw = np.empty(values.nbytes + 64, np.uint8)
                start = -raw.ctypes.data % 64
                pe = raw[start:start + values.nbytes].view(self.dtype).reshape(values.shape)
                pe[...] = values
                pe.flags.writeable = False
                self._pe = pe
        return pe[:n]

    def _forward(self, tokens, lengths, n_threads, with_logits):
        n_threads = _arguments.threads(n_threads)
        (given, tokens), (given_lengths, lengths), single = self._batch(tokens, lengths)
        batch, n = tokens.shape[:2]
        features = np.empty((batch, self.n_features), self.dtype)
        logits = np.empty((batch, self.n_classes if with_logits else 0), self.dtype)
        pe = self._encoding(n) if self.positional else self._no_encoding
        bad = self._network.forward(tokens, lengths, pe, features, logits, n_threads)
        if bad is not None:
            if bad[0] == "length":
                s = bad[1]
                raise ValueError(f"lengths must be between 1 and n = {n}, got "
                                 f"{given_lengths[s]} for sentence {s}")
            _, s, t, i, _ = bad
            raise ValueError(f"tokens: id {given[s, t, self.columns[i]]} at position {t} of "
                             f"sentence {s} is out of range for embeddings[{i}] "
                             f"(vocabulary {self._vocab[i]})")
        out = logits if with_logits else features
        return out[0] if single else out

    def features(self, tokens, lengths=None, *, n_threads: Optional[int] = None) -> np.ndarray:
        """The pooled features, ``(F,)`` for one sentence or ``(batch, F)``.

        Parameters
        ----------
        tokens : array_like of int
            ``(n, k)`` ids of one sentence, or ``(batch, n, k)`` of a padded batch; ``k``
            id columns, indexed by ``columns``.
        lengths : array_like of int, optional
            ``(batch,)`` sentence lengths, between 1 and ``n`` (default ``n``).  Positions
            at or past a sentence's length are never read, whatever ids they hold.
        n_threads : int, optional
            OpenMP threads the sentences of a batch are spread over.

        Raises
        ------
        ValueError
            On shapes that do not fit, a length out of range, or an id out of range within
            a sentence's length (naming the table, sentence, position and id).
        TypeError
            On tokens or lengths that are not integers.
        """
        return self._forward(tokens, lengths, n_threads, with_logits=False)

    def logits(self, tokens, lengths=None, *, n_threads: Optional[int] = None) -> np.ndarray:
        """The class logits, ``(classes,)`` or ``(batch, classes)``; see :meth:`features`."""
        return self._forward(tokens, lengths, n_threads, with_logits=True)

    def predict_proba(self, tokens, lengths=None, *,
                      n_threads: Optional[int] = None) -> np.ndarray:
        """Softmax of the logits, computed stably (the largest logit subtracted first)."""
        z = self.logits(tokens, lengths, n_threads=n_threads)
        z = np.exp(z - z.max(axis=-1, keepdims=True))
        return z / z.sum(axis=-1, keepdims=True)

    def predict(self, tokens, lengths=None, *, n_threads: Optional[int] = None):
        """The index of the largest logit: an int, or ``(batch,)`` ints."""
        z = self.logits(tokens, lengths, n_threads=n_threads)
        return z.argmax(axis=-1)

    # -- files -----------------------------------------------------------------------

    def save(self, path) -> None:
        """Write the model to one ``.npz`` file, format ``suite.modelfile.FORMAT_VERSION``.

        Parameters
        ----------
        path : str, os.PathLike or binary file object
            Where to write; ``.npz`` is appended to a name without it (as
            :func:`numpy.savez` does).  The members are described in
            :mod:`suite.modelfile`; no pickled objects.

        Raises
        ------
        TypeError
            On a ``path`` of another type.
        """
        write_model(path, self.embeddings, self.filters, self.classifier, columns=self.columns,
                    positional=self.positional, activation=self.activation)

    @classmethod
    def load(cls, path) -> "TextCNN":
        """A model written by :meth:`save`, every member validated before it is built.

        Files written before the format had a version (no ``format_version`` member) load
        with the same meaning.

        Parameters
        ----------
        path : str, os.PathLike or binary file object
            The file (a file object needs ``read``, ``seek`` and ``tell``).

        Returns
        -------
        TextCNN

        Raises
        ------
        suite.ModelFileError
            On a file that is not a model :meth:`save` could have written, naming the file
            and the member (see :func:`suite.modelfile.read_model`).
        TypeError
            On a ``path`` of another type.
        FileNotFoundError
            On a file that does not exist.
        """
        m = read_model(path)
        return cls(m.embeddings, m.filters, m.classifier, columns=m.columns,
                   positional=m.positional, activation=m.activation)

    def __repr__(self) -> str:
        banks = ", ".join(f"{c}x{h}" for c, h in zip(self._bank_channels, self._bank_h))
        return (f"TextCNN(D={self.dim}, banks=[{banks}], classes={self.n_classes}, "
                f"activation={self.activation!r}, positional={self.positional}, "
                f"dtype={self.dtype.name})")
