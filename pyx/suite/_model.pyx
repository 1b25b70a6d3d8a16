"""The whole forward of the text-CNN classifier in compiled code, without the GIL.

A ``Network`` holds a classifier's weights, checked and laid out once by ``suite.model``;
its ``forward`` takes a padded batch of ids.  One sentence at a time, each on one OpenMP
thread: gather its rows from the embedding tables and add the positional encoding into a
per-thread sentence matrix, run every filter bank over it, max-pool, activate, then the
dense layer.  Only a sentence's own ``length`` rows are read and computed: the padding of
a batch costs nothing.

A batch of one sentence (a server answering one request) is split instead: its filter
blocks are shared out between the threads, each thread taking the same blocks at every
call so that its share of the weights stays in its own cache, and the dense layer runs
once they are pooled.  Every channel is computed by the same code either way, so the
features and logits are the same bits on any number of threads.
"""
from cython cimport floating
from cython.parallel cimport prange, threadid
from libc.stdint cimport uintptr_t
from libc.stdlib cimport free, malloc
from libc.string cimport memset

import numpy as np

from suite._conv cimport packed_bank
from suite._kernels_api cimport PACKED_PAD
from suite._conv_pool cimport Activation, activate

# One sentence is split over threads when its banks' weights take this many bytes (a
# call streams them all: two cores' caches hold them, one core's does not) or it takes
# this many multiply-adds (its windows times the taps and channels of every bank).
# Smaller, starting the second thread costs more than it saves.  Measured:
# docs/latency.md.
cdef enum:
    SPLIT_MIN_BYTES = 384 * 1024
    SPLIT_MIN_MACS = 1500000


cdef struct Layout:
    # The shapes of a network and where each part of its weights starts.
    Py_ssize_t d, n_tables, banks, classes, h_max, c_max
    const Py_ssize_t* table_offset   # table i: rows of table_dim[i] from table_offset[i]
    const Py_ssize_t* table_dim
    const Py_ssize_t* table_column   # the id column that indexes table i
    const Py_ssize_t* vocab
    const Py_ssize_t* bank_offset    # bank j: packed weights from bank_offset[j]
    const Py_ssize_t* bank_h
    const Py_ssize_t* bank_channels
    const Py_ssize_t* bank_padded    # its maps' rows: the channels in whole vectors
    Py_ssize_t block                 # channels per packed block: 2 vectors' lanes
    Activation activation


cdef void fill_sentence(const Layout* net, Py_ssize_t length, const Py_ssize_t* ids,
                        Py_ssize_t id_columns, const floating* tables, const floating* pe,
                        floating* xt, Py_ssize_t ldt) noexcept nogil:
    """The sentence matrix, transposed (``d`` rows of ``ldt``), with the encoding added.

    A bank taller than the sentence sees zero rows below it (one window), and the
    kernel's tiles read PACKED_PAD columns past the last window: zeros too (one memset
    for all of xt).
    """
    cdef Py_ssize_t t, i, k, column_start
    cdef const floating* src
    cdef const floating* enc
    cdef floating* dst
    memset(xt, 0, net.d * ldt * sizeof(floating))
    for t in range(length):
        column_start = 0
        enc = pe + t * net.d if pe != NULL else NULL
        for i in range(net.n_tables):
            src = (tables + net.table_offset[i]
                   + ids[t * id_columns + net.table_column[i]] * net.table_dim[i])
            dst = xt + column_start * ldt + t
            if enc != NULL:
                for k in range(net.table_dim[i]):
                    dst[k * ldt] = src[k] + enc[column_start + k]
            else:
                for k in range(net.table_dim[i]):
                    dst[k * ldt] = src[k]
            column_start += net.table_dim[i]


cdef inline Py_ssize_t windows_of(const Layout* net, Py_ssize_t j,
                                  Py_ssize_t length) noexcept nogil:
    cdef Py_ssize_t h = net.bank_h[j]
    return (length if length > h else h) - h + 1


cdef void bank_block(const Layout* net, Py_ssize_t j, Py_ssize_t c0, Py_ssize_t c1,
                     Py_ssize_t length, const floating* weights, const floating* bias,
                     const floating* xt, Py_ssize_t ldt, floating* conv,
                     floating* features, const floating* next_weights) noexcept nogil:
    """Channels ``c0`` to ``c1`` of bank ``j``: their maps in ``conv``, max-pooled and
    activated into ``features`` (the bank's features from ``features[0]``).

    ``c0`` is a multiple of ``net.block``: the channels from there are packed as a bank
    of their own would be, so each is computed as in the whole bank.
    """
    cdef Py_ssize_t c, t
    cdef Py_ssize_t h = net.bank_h[j], d = net.d, padded = net.bank_padded[j]
    cdef Py_ssize_t windows = windows_of(net, j, length)
    cdef floating m, v
    cdef const floating* row
    cdef floating* out = conv + c0
    cdef const floating* b = bias + c0
    # A window is h whole rows: one contiguous run of h * d values of the sentence,
    # against the bank's weights packed along the channels.
    packed_bank(weights + net.bank_offset[j] + c0 * h * d, c1 - c0, padded, h, d, xt, ldt,
                windows, out, next_weights)
    # Max over the windows, a whole row of channels at a time (the loop the C compiler
    # vectorises); the activations are non-decreasing, so the max of act(v) is
    # act(max v).  NaN wins, as in numpy.max: once the max is NaN no comparison
    # replaces it.
    for c in range(c1 - c0):
        out[c] = out[c] + b[c]
    for t in range(1, windows):
        row = out + t * padded
        for c in range(c1 - c0):
            v = row[c] + b[c]
            m = out[c]
            out[c] = v if v > m or v != v else m
    for c in range(c1 - c0):
        features[c0 + c] = activate(out[c], net.activation)


cdef void dense(const Layout* net, const floating* features, Py_ssize_t n_features,
                const floating* dense_weights, const floating* dense_bias,
                floating* logits) noexcept nogil:
    """The dense layer of one sentence, each logit summed in a fixed order.

    A sentence gets the same logits, to the last bit, alone or in any batch, on any
    number of threads.  Up to 16 classes at a time, whose sums are independent.
    """
    cdef Py_ssize_t c, c0, c1, k
    cdef floating v
    cdef floating sums[16]
    for c0 in range(0, net.classes, 16):
        c1 = min(c0 + 16, net.classes)
        for c in range(c0, c1):
            sums[c - c0] = dense_bias[c]
        for k in range(n_features):
            v = features[k]
            for c in range(c0, c1):
                sums[c - c0] += dense_weights[c * n_features + k] * v
        for c in range(c0, c1):
            logits[c] = sums[c - c0]


cdef void sentence_features(
        const Layout* net, Py_ssize_t length, const Py_ssize_t* ids, Py_ssize_t id_columns,
        const floating* tables, const floating* pe, const floating* weights,
        const floating* bias, const floating* dense_weights, const floating* dense_bias,
        floating* xt, Py_ssize_t ldt, floating* conv, floating* features,
        floating* logits) noexcept nogil:
    """Pooled features and, unless ``logits`` is NULL, the logits of one sentence.

    ``ids`` is ``length x id_columns``; ``xt`` is scratch for the sentence matrix,
    transposed (``d`` rows of ``ldt``), and ``conv`` for one bank's feature maps
    (``windows x bank_padded[j]``).
    """
    cdef Py_ssize_t j
    cdef Py_ssize_t feature = 0
    fill_sentence(net, length, ids, id_columns, tables, pe, xt, ldt)
    for j in range(net.banks):
        bank_block(net, j, 0, net.bank_channels[j], length, weights, bias + feature, xt,
                   ldt, conv, features + feature,
                   weights + net.bank_offset[j + 1] if j + 1 < net.banks else NULL)
        feature += net.bank_channels[j]
    if logits != NULL:
        dense(net, features, feature, dense_weights, dense_bias, logits)


cdef Py_ssize_t sentence_macs(const Layout* net, Py_ssize_t length) noexcept nogil:
    """The multiply-adds of one sentence's banks."""
    cdef Py_ssize_t j, macs = 0
    for j in range(net.banks):
        macs += (windows_of(net, j, length) * net.bank_h[j] * net.d
                 * net.bank_channels[j])
    return macs


cdef bint splits(const Layout* net, Py_ssize_t length, int n_threads,
                 Py_ssize_t itemsize) noexcept nogil:
    """Whether one sentence of ``length`` positions is shared out between threads."""
    return n_threads > 1 and (net.bank_offset[net.banks] * itemsize >= SPLIT_MIN_BYTES
                              or sentence_macs(net, length) >= SPLIT_MIN_MACS)


cdef void split_share(const Layout* net, Py_ssize_t length, int part, int parts,
                      const floating* weights, const floating* bias, const floating* xt,
                      Py_ssize_t ldt, floating* conv, floating* features) noexcept nogil:
    """Part ``part`` of ``parts`` of one sentence's filter blocks, pooled into features.

    The blocks (``net.block`` channels of one bank, in bank order) are cut into
    ``parts`` runs of about equal multiply-adds; every call of the same sentence length
    gives a thread the same run, and so the same weights.
    """
    cdef Py_ssize_t j, c0, c1, first, last, cost, total = 0, done = 0, feature = 0
    cdef Py_ssize_t block = net.block
    for j in range(net.banks):
        total += (windows_of(net, j, length) * net.bank_h[j]
                  * ((net.bank_channels[j] + block - 1) // block))
    # Blocks whose cumulative cost ends in (total * part / parts, total * (part + 1) /
    # parts] are this part's.
    for j in range(net.banks):
        cost = windows_of(net, j, length) * net.bank_h[j]
        first, last = -1, -1
        c0 = 0
        while c0 < net.bank_channels[j]:
            done += cost
            if done * parts > total * part and done * parts <= total * (part + 1):
                if first < 0:
                    first = c0
                last = c0
            c0 += block
        if first >= 0:
            c1 = min(last + block, net.bank_channels[j])
            bank_block(net, j, first, c1, length, weights, bias + feature, xt, ldt, conv,
                       features + feature, NULL)
        feature += net.bank_channels[j]


cdef int run(const Layout* net, const Py_ssize_t* tokens, Py_ssize_t batch, Py_ssize_t n,
             Py_ssize_t id_columns, const Py_ssize_t* lengths, const floating* tables,
             const floating* pe, const floating* weights, const floating* bias,
             const floating* dense_weights, const floating* dense_bias, floating* features,
             Py_ssize_t n_features, floating* logits, int n_threads) noexcept nogil:
    """The forward of a checked batch; -1 when the scratch cannot be allocated."""
    cdef Py_ssize_t s
    # Never more threads than sentences; each thread has its own sentence matrix and maps.
    cdef int threads = <int>min(<Py_ssize_t>max(n_threads, 1), batch)
    cdef Py_ssize_t rows = max(n, net.h_max)
    cdef Py_ssize_t ldt = rows + PACKED_PAD
    # Each thread's sentence matrix starts on a 64-byte boundary, so that the work of a
    # call does not depend on where malloc puts the scratch.
    cdef Py_ssize_t per_thread = (ldt * net.d + rows * net.c_max + 15) // 16 * 16
    cdef void* raw = malloc(threads * per_thread * sizeof(floating) + 64)
    if raw == NULL:
        return -1
    cdef floating* scratch = <floating*>((<uintptr_t>raw + 63) & ~(<uintptr_t>63))
    cdef floating* x
    cdef int part
    if batch == 1 and splits(net, lengths[0], n_threads, sizeof(floating)):
        threads = <int>min(<Py_ssize_t>n_threads, net.banks * (net.c_max // net.block + 1))
        free(raw)
        # One sentence matrix, read by every thread; a map of each bank per thread.
        per_thread = (rows * net.c_max + 15) // 16 * 16
        raw = malloc((ldt * net.d + 15) // 16 * 16 * sizeof(floating)
                     + threads * per_thread * sizeof(floating) + 64)
        if raw == NULL:
            return -1
        scratch = <floating*>((<uintptr_t>raw + 63) & ~(<uintptr_t>63))
        fill_sentence(net, lengths[0], tokens, id_columns, tables, pe, scratch, ldt)
        x = scratch + (ldt * net.d + 15) // 16 * 16
        for part in prange(threads, num_threads=threads, schedule="static", chunksize=1):
            split_share(net, lengths[0], part, threads, weights, bias, scratch, ldt,
                        x + part * per_thread, features)
        if logits != NULL:
            dense(net, features, n_features, dense_weights, dense_bias, logits)
    elif threads == 1:
        # No parallel region at all: one utterance pays nothing for OpenMP.
        for s in range(batch):
            sentence_features(net, lengths[s], tokens + s * n * id_columns, id_columns,
                              tables, pe, weights, bias, dense_weights, dense_bias,
                              scratch, ldt, scratch + ldt * net.d,
                              features + s * n_features,
                              logits + s * net.classes if logits != NULL else NULL)
    else:
        # Sentences differ in length: hand them out one at a time.
        for s in prange(batch, num_threads=threads, schedule="dynamic"):
            x = scratch + threadid() * per_thread
            sentence_features(net, lengths[s], tokens + s * n * id_columns, id_columns,
                              tables, pe, weights, bias, dense_weights, dense_bias,
                              x, ldt, x + ldt * net.d, features + s * n_features,
                              logits + s * net.classes if logits != NULL else NULL)
    free(raw)
    return 0


cdef const void* _address(a):
    """Where the data of the C-contiguous array ``a`` starts."""
    return <const void*><uintptr_t>a.__array_interface__["data"][0]


cdef class Network:
    """A classifier's weights, held for every forward call.

    Parameters
    ----------
    tables : ndarray
        Every embedding table flattened, table ``i`` from ``table_offset[i]`` with rows of
        ``table_dim[i]``, indexed by id column ``table_column[i]``; ``vocab[i]`` rows.
    table_offset, table_dim, table_column, vocab : ndarray of intp
    weights : ndarray
        Every bank packed by ``suite.model.pack_filters``: bank ``j`` from
        ``bank_offset[j]``, its ``bank_channels[j]`` filters of ``bank_h[j]`` rows; its
        maps are rows of ``bank_padded[j]`` (the channels rounded up to whole vectors).
    bank_offset, bank_h, bank_channels, bank_padded : ndarray of intp
    bias : ndarray
        The banks' biases, concatenated.
    activation : Activation
    dense_weights, dense_bias : ndarray
        The dense layer, ``(classes, sum of channels)`` and ``(classes,)``.

    Every float array has the same dtype, float32 or float64, and every array is
    C-contiguous (``suite.model.TextCNN`` makes them so); they are kept, not copied.
    """
    cdef Layout net
    cdef readonly bint single
    cdef readonly Py_ssize_t n_features
    cdef object _keep
    cdef const void* tables
    cdef const void* weights
    cdef const void* bias
    cdef const void* dense_weights
    cdef const void* dense_bias

    def __cinit__(self, tables, table_offset, table_dim, table_column, vocab, weights,
                  bank_offset, bank_h, bank_channels, bank_padded, bias,
                  Activation activation, dense_weights, dense_bias):
        floats = (tables, weights, bias, dense_weights, dense_bias)
        indices = (table_offset, table_dim, table_column, vocab, bank_offset, bank_h,
                   bank_channels, bank_padded)
        dtype = tables.dtype
        if dtype.name not in ("float32", "float64") or any(a.dtype != dtype for a in floats):
            raise TypeError("the weights must all be float32 or all float64")
        if any(a.dtype != np.intp for a in indices):
            raise TypeError("the shapes and offsets must be intp arrays")
        if not all(a.flags.c_contiguous for a in floats + indices):
            raise ValueError("every array must be C-contiguous")
        if len(table_dim) != len(table_offset) or len(bank_h) + 1 != len(bank_offset):
            raise ValueError("bank_offset must have one entry more than bank_h")
        self._keep = floats + indices
        self.single = dtype.name == "float32"
        self.tables, self.weights, self.bias = (
            _address(tables), _address(weights), _address(bias))
        self.dense_weights, self.dense_bias = _address(dense_weights), _address(dense_bias)
        self.net.table_offset = <const Py_ssize_t*>_address(table_offset)
        self.net.table_dim = <const Py_ssize_t*>_address(table_dim)
        self.net.table_column = <const Py_ssize_t*>_address(table_column)
        self.net.vocab = <const Py_ssize_t*>_address(vocab)
        self.net.bank_offset = <const Py_ssize_t*>_address(bank_offset)
        self.net.bank_h = <const Py_ssize_t*>_address(bank_h)
        self.net.bank_channels = <const Py_ssize_t*>_address(bank_channels)
        self.net.bank_padded = <const Py_ssize_t*>_address(bank_padded)
        self.net.n_tables = len(table_dim)
        self.net.banks = len(bank_h)
        self.net.d = int(table_dim.sum())
        self.net.classes = dense_bias.shape[0]
        self.net.h_max = max(1, int(bank_h.max()) if len(bank_h) else 1)
        self.net.c_max = max(1, int(bank_padded.max()) if len(bank_padded) else 1)
        self.net.activation = activation
        # The packing of suite.model.pack_filters: blocks of two vectors of channels.
        from suite._runtime import VECTOR_BYTES
        self.net.block = 2 * (VECTOR_BYTES // dtype.itemsize)
        self.n_features = int(bank_channels.sum())

    def splits(self, Py_ssize_t length, int n_threads):
        """Whether ``forward`` of one sentence of ``length`` positions on ``n_threads``
        threads shares its filter blocks out between them (else one thread computes it).
        """
        return splits(&self.net, max(length, 1), n_threads, 4 if self.single else 8)

    def forward(self, const Py_ssize_t[:, :, ::1] tokens, const Py_ssize_t[::1] lengths,
                pe, features, logits, int n_threads):
        """Features and logits of a padded batch, or what is wrong with it.

        Parameters
        ----------
        tokens : ndarray of intp, shape (batch, n, id columns)
        lengths : ndarray of intp, shape (batch,)
        pe : ndarray, shape (n or more, d) or (0, d)
            The positional encoding of each position, or none.
        features : ndarray, shape (batch, features)
            Written with the pooled features.
        logits : ndarray, shape (batch, classes) or (batch, 0)
            Written with the logits, unless it has no columns.
        n_threads : int
            OpenMP threads the sentences are spread over.

        Returns
        -------
        tuple or None
            ``("length", s, length)`` for the first sentence whose length is not within
            ``1 .. n``, else ``("id", s, t, i, id)`` for the first id out of range
            within a sentence's length (sentence, position, table, id), else None:
            ``features`` and ``logits`` are written.  Nothing is written on an error.
        """
        cdef Py_ssize_t batch = tokens.shape[0], n = tokens.shape[1], k = tokens.shape[2]
        cdef Py_ssize_t s, t, i, ident, length
        cdef int status = 0
        cdef const Layout* net = &self.net
        cdef const float[:, ::1] pe32
        cdef const double[:, ::1] pe64
        cdef float[:, ::1] features32, logits32
        cdef double[:, ::1] features64, logits64
        if lengths.shape[0] != batch:
            raise ValueError("lengths must have one entry per sentence")
        if batch == 0 or self.n_features == 0:
            return None
        for i in range(net.n_tables):
            if net.table_column[i] >= k:
                raise ValueError("tokens have fewer id columns than the tables use")
        with nogil:
            for s in range(batch):
                length = lengths[s]
                if length < 1 or length > n:
                    with gil:
                        return "length", s, length
                for t in range(length):
                    for i in range(net.n_tables):
                        ident = tokens[s, t, net.table_column[i]]
                        if ident < 0 or ident >= net.vocab[i]:
                            with gil:
                                return "id", s, t, i, ident
        if self.single:
            pe32, features32, logits32 = pe, features, logits
            if (pe32.shape[0] and pe32.shape[0] < n or pe32.shape[1] != net.d
                    or features32.shape[0] != batch
                    or features32.shape[1] != self.n_features or logits32.shape[0] != batch
                    or logits32.shape[1] not in (0, net.classes)):
                raise ValueError("pe, features or logits have the wrong shape")
            with nogil:
                status = run(net, &tokens[0, 0, 0], batch, n, k, &lengths[0],
                             <const float*>self.tables,
                             &pe32[0, 0] if pe32.shape[0] else NULL,
                             <const float*>self.weights, <const float*>self.bias,
                             <const float*>self.dense_weights,
                             <const float*>self.dense_bias, &features32[0, 0],
                             self.n_features,
                             &logits32[0, 0] if logits32.shape[1] else NULL, n_threads)
        else:
            pe64, features64, logits64 = pe, features, logits
            if (pe64.shape[0] and pe64.shape[0] < n or pe64.shape[1] != net.d
                    or features64.shape[0] != batch
                    or features64.shape[1] != self.n_features or logits64.shape[0] != batch
                    or logits64.shape[1] not in (0, net.classes)):
                raise ValueError("pe, features or logits have the wrong shape")
            with nogil:
                status = run(net, &tokens[0, 0, 0], batch, n, k, &lengths[0],
                             <const double*>self.tables,
                             &pe64[0, 0] if pe64.shape[0] else NULL,
                             <const double*>self.weights, <const double*>self.bias,
                             <const double*>self.dense_weights,
                             <const double*>self.dense_bias, &features64[0, 0],
                             self.n_features,
                             &logits64[0, 0] if logits64.shape[1] else NULL, n_threads)
        if status != 0:
            raise MemoryError("no memory for the sentence matrices of the forward pass")
        return None
