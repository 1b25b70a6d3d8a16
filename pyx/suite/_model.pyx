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
from libc.string cimport memcpy, memset

from suite._conv cimport TILES, fmap_core, make_geometry
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
        const floating* bias, Activation activation, Py_ssize_t d, Py_ssize_t h_max,
        const floating* dense_weights, const floating* dense_bias, Py_ssize_t classes,
        floating* x, floating* conv, floating* features, floating* logits) noexcept nogil:
    """Pooled features and ``classes`` logits of one sentence of ``length`` tokens.

    ``ids`` is ``length x id_columns``; ``x`` and ``conv`` are scratch for the sentence
    matrix and one bank's feature maps.
    """
    cdef Py_ssize_t t, i, k, j, c, h, channels, windows, rows, column_start
    cdef Py_ssize_t feature = 0
    cdef floating m, v, acc
    cdef floating* row
    for t in range(length):
        row = x + t * d
        column_start = 0
        for i in range(table_dim.shape[0]):
            memcpy(row + column_start,
                   tables + table_offset[i] + ids[t * id_columns + table_column[i]] * table_dim[i],
                   table_dim[i] * sizeof(floating))
            column_start += table_dim[i]
        if pe != NULL:
            for k in range(d):
                row[k] += pe[t * d + k]
    # A bank taller than the sentence sees zero rows below it: one window.
    rows = length if length > h_max else h_max
    if rows > length:
        memset(x + length * d, 0, (rows - length) * d * sizeof(floating))
    for j in range(bank_h.shape[0]):
        h, channels = bank_h[j], bank_channels[j]
        windows = (length if length > h else h) - h + 1
        # The register-blocked tiles read the windows in place: a window is h whole
        # rows, so every filter row meets a contiguous stretch of the sentence.
        fmap_core(TILES, make_geometry(1, windows + h - 1, d, channels, h, d), x,
                  weights + bank_offset[j], bias + feature, conv, NULL)
        for c in range(channels):
            # The activations are non-decreasing: the max of act(v) is act(max v).
            # NaN wins, as in numpy.max: once m is NaN no comparison replaces it.
            m = conv[c * windows]
            for t in range(1, windows):
                v = conv[c * windows + t]
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
            const Py_ssize_t[::1] bank_channels, const floating[::1] bias, Activation activation,
            const floating[:, ::1] dense_weights, const floating[::1] dense_bias,
            floating[:, ::1] features, floating[:, ::1] logits, int n_threads):
    """Features (and, when ``logits`` has columns, logits) of a batch of sentences.

    ``tables`` holds every embedding table flattened, table ``i`` at ``table_offset[i]``
    with rows of ``table_dim[i]``, indexed by id column ``table_column[i]``.  ``weights``
    holds every bank, bank ``j`` at ``bank_offset[j]`` as ``(bank_channels[j], bank_h[j],
    d)``.  ``pe`` is the positional encoding, ``(n, d)``, or ``(0, d)`` for none.  Ids
    must be in range within each sentence's length (see ``first_bad_id``).
    """
    cdef Py_ssize_t batch = tokens.shape[0], n = tokens.shape[1], k = tokens.shape[2]
    cdef Py_ssize_t d = pe.shape[1], total = features.shape[1], classes = logits.shape[1]
    cdef Py_ssize_t j, s, h_max = 1, c_max = 1
    for j in range(bank_h.shape[0]):
        h_max = max(h_max, bank_h[j])
        c_max = max(c_max, bank_channels[j])
    if batch == 0 or total == 0:
        return
    # Never more threads than sentences; each thread has its own sentence matrix and maps.
    cdef int threads = <int>min(<Py_ssize_t>max(n_threads, 1), batch)
    cdef Py_ssize_t rows = max(n, h_max)
    # Each thread's sentence matrix starts on a 64-byte boundary: the vectorised tiles
    # peel a different number of iterations for each alignment, so a scratch placed
    # wherever malloc puts it would change the work of a call from process to process.
    cdef Py_ssize_t per_thread = (rows * d + rows * c_max + 15) // 16 * 16
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
                                      &bias[0], activation, d, h_max, dense_start,
                                      dense_bias_start, classes, scratch,
                                      scratch + rows * d, &features[s, 0],
                                      &logits[s, 0] if classes > 0 else NULL)
            else:
                # Sentences differ in length: hand them out one at a time.
                for s in prange(batch, num_threads=threads, schedule="dynamic"):
                    x = scratch + threadid() * per_thread
                    logits_start = &logits[s, 0] if classes > 0 else NULL
                    sentence_features(lengths[s], &tokens[s, 0, 0], k, &tables[0],
                                      table_offset, table_dim, table_column, pe_start,
                                      &weights[0], bank_offset, bank_h, bank_channels,
                                      &bias[0], activation, d, h_max, dense_start,
                                      dense_bias_start, classes, x, x + rows * d,
                                      &features[s, 0], logits_start)
    finally:
        free(raw)
