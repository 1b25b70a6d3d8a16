"""The whole forward of the text-CNN classifier in compiled code, without the GIL.

One sentence at a time, each on one OpenMP thread: gather its rows from the embedding
tables and add the positional encoding into a per-thread sentence matrix, run every
filter bank over it, activate, max-pool, then one dense layer for the whole batch.  Only
a sentence's own ``length`` rows are read and computed: the padding of a batch costs
nothing.  The Python layer (``suite.model``) checks and normalises every argument.
"""
from cython cimport floating
from cython.parallel cimport prange, threadid
from libc.stdint cimport uintptr_t
from libc.stdlib cimport free, malloc
from libc.string cimport memset

from suite._conv cimport packed_bank
from suite._kernels_api cimport PACKED_PAD
from suite._fused cimport Activation, activate

def first_bad_id(const Py_ssize_t[:, :, ::1] tokens, const Py_ssize_t[::1] lengths,
                 const Py_ssize_t[::1] columns, const Py_ssize_t[::1] vocab):
    """The first id out of range within a sentence's length, or None.

    Returns
    -------
    tuple of int or None
        ``(sentence, position, table, id)``.
    """
    cdef Py_ssize_t s, t, i, ident
    with nogil:
        for s in range(tokens.shape[0]):
            for t in range(lengths[s]):
                for i in range(columns.shape[0]):
                    ident = tokens[s, t, columns[i]]
                    if ident < 0 or ident >= vocab[i]:
                        with gil:
                            return s, t, i, ident
    return None


cdef void sentence_features(
        Py_ssize_t length, const Py_ssize_t* ids, Py_ssize_t id_columns,
        const floating* tables, const Py_ssize_t[::1] table_offset,
        const Py_ssize_t[::1] table_dim, const Py_ssize_t[::1] table_column,
        const floating* pe, const floating* weights, const Py_ssize_t[::1] bank_offset,
        const Py_ssize_t[::1] bank_h, const Py_ssize_t[::1] bank_channels,
        const Py_ssize_t[::1] bank_padded,
        const floating* bias, Activation activation, Py_ssize_t d, Py_ssize_t h_max,
        const floating* dense_weights, const floating* dense_bias, Py_ssize_t classes,
        floating* xt, Py_ssize_t ldt, floating* conv, floating* features,
        floating* logits) noexcept nogil:
    """Pooled features and ``classes`` logits of one sentence of ``length`` tokens.

    ``ids`` is ``length x id_columns``; ``xt`` is scratch for the sentence matrix,
    transposed (``d`` rows of ``ldt``), and ``conv`` for one bank's feature maps
    (``windows x bank_padded[j]``).
    """
    cdef Py_ssize_t t, i, k, j, c, h, channels, padded, windows, column_start
    cdef Py_ssize_t banks = bank_h.shape[0]
    cdef Py_ssize_t feature = 0
    cdef floating m, v, acc
    cdef const floating* src
    for t in range(length):
        column_start = 0
        for i in range(table_dim.shape[0]):
            src = tables + table_offset[i] + ids[t * id_columns + table_column[i]] * table_dim[i]
            for k in range(table_dim[i]):
                xt[(column_start + k) * ldt + t] = src[k]
            column_start += table_dim[i]
        if pe != NULL:
            for k in range(d):
                xt[k * ldt + t] += pe[t * d + k]
    # A bank taller than the sentence sees zero rows below it (one window), and the
    # kernel's tiles read PACKED_PAD columns past the last window: zeros too.
    for k in range(d):
        memset(xt + k * ldt + length, 0, (ldt - length) * sizeof(floating))
    for j in range(bank_h.shape[0]):
        h, channels, padded = bank_h[j], bank_channels[j], bank_padded[j]
        windows = (length if length > h else h) - h + 1
        # A window is h whole rows: one contiguous run of h * d values of the sentence,
        # against the bank's weights packed along the channels.
        packed_bank(weights + bank_offset[j], channels, padded, h, d, xt, ldt, windows,
                    conv, weights + bank_offset[j + 1] if j + 1 < banks else NULL)
        for c in range(channels):
            # The activations are non-decreasing: the max of act(v) is act(max v).
            # NaN wins, as in numpy.max: once m is NaN no comparison replaces it.
            m = conv[c] + bias[feature + c]
            for t in range(1, windows):
                v = conv[t * padded + c] + bias[feature + c]
                if v > m or v != v:
                    m = v
            features[feature + c] = activate(m, activation)
        feature += channels
    # The dense layer sentence by sentence, in a fixed order: a sentence gets the same
    # logits, to the last bit, alone or in any batch, on any number of threads.
    for c in range(classes):
        acc = dense_bias[c]
        for k in range(feature):
            acc += dense_weights[c * feature + k] * features[k]
        logits[c] = acc


def forward(const floating[::1] tables, const Py_ssize_t[::1] table_offset,
            const Py_ssize_t[::1] table_dim, const Py_ssize_t[::1] table_column,
            const floating[:, ::1] pe, const Py_ssize_t[:, :, ::1] tokens,
            const Py_ssize_t[::1] lengths, const floating[::1] weights,
            const Py_ssize_t[::1] bank_offset, const Py_ssize_t[::1] bank_h,
            const Py_ssize_t[::1] bank_channels, const Py_ssize_t[::1] bank_padded,
            const floating[::1] bias, Activation activation,
            const floating[:, ::1] dense_weights, const floating[::1] dense_bias,
            floating[:, ::1] features, floating[:, ::1] logits, int n_threads):
    """Features (and, when ``logits`` has columns, logits) of a batch of sentences.

    ``tables`` holds every embedding table flattened, table ``i`` at ``table_offset[i]``
    with rows of ``table_dim[i]``, indexed by id column ``table_column[i]``.  ``weights``
    holds every bank packed by ``suite.model.pack_filters``: bank ``j`` at
    ``bank_offset[j]``, its ``bank_channels[j]`` filters of ``bank_h[j]`` rows; its maps
    are rows of ``bank_padded[j]`` (the channels rounded up to whole vectors).  ``pe``
    is the positional encoding, ``(n, d)``, or ``(0, d)`` for none.  Ids
    must be in range within each sentence's length (see ``first_bad_id``).
    """
    cdef Py_ssize_t batch = tokens.shape[0], n = tokens.shape[1], k = tokens.shape[2]
    cdef Py_ssize_t d = pe.shape[1], total = features.shape[1], classes = logits.shape[1]
    cdef Py_ssize_t j, s, h_max = 1, c_max = 1
    for j in range(bank_h.shape[0]):
        h_max = max(h_max, bank_h[j])
        c_max = max(c_max, bank_padded[j])
    if batch == 0 or total == 0:
        return
    # Never more threads than sentences; each thread has its own sentence matrix and maps.
    cdef int threads = <int>min(<Py_ssize_t>max(n_threads, 1), batch)
    cdef Py_ssize_t rows = max(n, h_max)
    cdef Py_ssize_t ldt = rows + PACKED_PAD
    # Each thread's sentence matrix starts on a 64-byte boundary, so that the work of a
    # call does not depend on where malloc puts the scratch.
    cdef Py_ssize_t per_thread = (ldt * d + rows * c_max + 15) // 16 * 16
    cdef void* raw = malloc(threads * per_thread * sizeof(floating) + 64)
    if raw == NULL:
        raise MemoryError("no memory for the sentence matrices of the forward pass")
    cdef floating* scratch = <floating*>((<uintptr_t>raw + 63) & ~(<uintptr_t>63))
    cdef const floating* pe_start = &pe[0, 0] if pe.shape[0] > 0 else NULL
    cdef const floating* dense_start = &dense_weights[0, 0] if classes > 0 else NULL
    cdef const floating* dense_bias_start = &dense_bias[0] if classes > 0 else NULL
    cdef floating* x
    cdef floating* logits_start
    try:
        with nogil:
            if threads == 1:
                # No parallel region at all: one utterance pays nothing for OpenMP.
                for s in range(batch):
                    sentence_features(lengths[s], &tokens[s, 0, 0], k, &tables[0],
                                      table_offset, table_dim, table_column, pe_start,
                                      &weights[0], bank_offset, bank_h, bank_channels,
                                      bank_padded, &bias[0], activation, d, h_max, dense_start,
                                      dense_bias_start, classes, scratch, ldt,
                                      scratch + ldt * d, &features[s, 0],
                                      &logits[s, 0] if classes > 0 else NULL)
            else:
                # Sentences differ in length: hand them out one at a time.
                for s in prange(batch, num_threads=threads, schedule="dynamic"):
                    x = scratch + threadid() * per_thread
                    logits_start = &logits[s, 0] if classes > 0 else NULL
                    sentence_features(lengths[s], &tokens[s, 0, 0], k, &tables[0],
                                      table_offset, table_dim, table_column, pe_start,
                                      &weights[0], bank_offset, bank_h, bank_channels,
                                      bank_padded, &bias[0], activation, d, h_max, dense_start,
                                      dense_bias_start, classes, x, ldt, x + ldt * d,
                                      &features[s, 0], logits_start)
    finally:
        free(raw)
