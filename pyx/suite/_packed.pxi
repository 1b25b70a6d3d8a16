# Full-width filters over one sentence with the weights packed beforehand, in Cython
# (part of _kernels.pxi): the kernel of suite.TextCNN, whose weights are fixed.
#
# With w == d every output is a dot product of length K = h * d: out[q, c] = sum over
# a < h, b < d of W[c, a, b] * X[q + a, b].  The tiles take those dot products one by one
# and end each with horizontal sums; here the vectors run along the channels instead.
# The weights are packed once (``suite.model.pack_filters``) as blocks of 2 vectors of
# channels, each block a (K, 2L) matrix with tap (a, b) in row b * h + a, and the sentence
# comes transposed, T[b, r] = X[r, b], so that the values a tile broadcasts for its
# windows, X[q0 + i + a, b] for i < 12, are 12 neighbours T[b, q0 + a + i]: one pointer,
# constant offsets, and for the h taps of a column one or two cache lines.  For each
# tap (a, b) a tile loads the weights of one or two vectors of channels and does 12 or
# 24 vector multiply-adds, one per window and vector, into as many accumulators; no
# horizontal sum at the end.
#
# The tiles are chosen so that the weights, which do not fit in L2 (2.1 MB for the seed's
# classifier in float32), are read from memory once per block of channels and the first
# pass over a block does as much work as the registers allow: 12 windows with AVX-512's
# 32 vector registers, 6 otherwise.  Nothing is padded: a call reads exactly the bank's
# weights, which, when other work ran since the last call, come from memory.  A tile past the last window computes windows that
# are not stored: T has ``PACKED_PAD`` columns to spare, and the caller zeroes them.

cdef extern from *:
    void prefetch_l2 "__builtin_prefetch"(const void* address, int rw, int locality) nogil


cdef inline void packed_tile(vec zero, const int cv, const int nq, const floating* p,
                             Py_ssize_t stride, Py_ssize_t h, Py_ssize_t d,
                             const floating* t, Py_ssize_t ldt, Py_ssize_t q0,
                             Py_ssize_t windows, floating* out, Py_ssize_t ldo,
                             const floating* ahead) noexcept nogil:
    """``out[q * ldo + c] = sum_{a, b} p[(b * h + a) * stride + c] * t[b * ldt + q + a]``
    for ``c < cv * L`` and the windows ``q0 <= q < min(q0 + nq, windows)``.

    ``cv`` (1 or 2) and ``nq`` (up to 16) are constants at every call, so the C compiler
    unrolls the loops over them and keeps the ``cv * nq`` accumulators in registers.
    Unless ``ahead`` is NULL, each tap also asks for the same row of the next block's
    weights (``ahead``, ``stride`` apart) to be brought into L2: the block after this
    one then streams in from memory while this one computes.
    """
    if (vec is vf64 and floating is float) or (vec is vf32 and floating is double):
        return  # a pairing of types Cython generates but nothing calls
    cdef Py_ssize_t lanes = sizeof(vec) // sizeof(floating)
    cdef Py_ssize_t a, b, i, j
    cdef const floating* pk = p
    cdef const floating* tb
    cdef vec w[2]
    cdef vec acc[32]
    for i in range(cv * nq):
        acc[i] = zero
    for b in range(d):
        tb = t + b * ldt + q0
        for a in range(h):
            for j in range(cv):
                w[j] = (<const vec*>(pk + j * lanes))[0]
            if ahead != NULL:
                for j in range(cv):
                    prefetch_l2(ahead + j * lanes, 0, 2)
                ahead += stride
            pk += stride
            for i in range(nq):
                for j in range(cv):
                    acc[i * cv + j] = acc[i * cv + j] + tb[i] * w[j]
            tb += 1
    for i in range(nq):
        if q0 + i < windows:
            for j in range(cv):
                (<vec*>(out + (q0 + i) * ldo + j * lanes))[0] = acc[i * cv + j]


cdef inline void packed_rows(vec zero, const floating* p, Py_ssize_t channels,
                             Py_ssize_t ldo, Py_ssize_t h, Py_ssize_t d, const floating* t,
                             Py_ssize_t ldt, Py_ssize_t windows, floating* out,
                             const floating* next_bank) noexcept nogil:
    """``packed`` for the vector type of ``zero``."""
    cdef Py_ssize_t lanes = sizeof(vec) // sizeof(floating)
    cdef Py_ssize_t k_len = h * d
    cdef Py_ssize_t c = 0, q, width
    cdef const floating* ahead
    while c + 2 * lanes <= channels:
        # The next block's weights are fetched during the first pass over this one
        # (when it is a block of two vectors too, laid out as this one); after the
        # last such block, the first block of the next bank.
        ahead = p + (c + 2 * lanes) * k_len if c + 4 * lanes <= channels else next_bank
        q = 0
        if SUITE_VECTOR_BYTES == 64:
            while windows - q > 6:
                packed_tile(zero, 2, 12, p + c * k_len, 2 * lanes, h, d, t, ldt, q, windows,
                            out + c, ldo, ahead)
                ahead = NULL
                q += 12
        while q < windows:
            packed_tile(zero, 2, 6, p + c * k_len, 2 * lanes, h, d, t, ldt, q, windows,
                        out + c, ldo, ahead)
            ahead = NULL
            q += 6
        c += 2 * lanes
    while c < channels:
        # One vector of channels, then what is left: a block narrower than a vector,
        # its rows ``width`` apart, read a whole vector at a time (the lanes past
        # ``channels`` compute with the next rows' weights and are never read).
        width = min(lanes, channels - c)
        for q in range(0, windows, 12):
            packed_tile(zero, 1, 12, p + c * k_len, width, h, d, t, ldt, q, windows,
                        out + c, ldo, NULL)
        c += width


cdef void packed(const floating* p, Py_ssize_t channels, Py_ssize_t ldo, Py_ssize_t h,
                 Py_ssize_t d, const floating* t, Py_ssize_t ldt, Py_ssize_t windows,
                 floating* out, const floating* next_bank) noexcept nogil:
    """``out[q * ldo + c] = sum_{a < h, b < d} W[c, a, b] * t[b * ldt + q + a]`` for
    ``q < windows`` and ``c < channels``.

    ``t`` is the sentence transposed, ``d`` rows of ``ldt >= windows + h - 1 +
    PACKED_PAD`` (the last ``PACKED_PAD`` columns finite, zero say).  ``W`` is a bank of
    ``channels`` filters packed by ``suite.model.pack_filters``: blocks of 2L channels,
    then one of L and one of fewer as the count requires; block ``c0`` of ``width``
    channels is ``p[c0 * h * d:]``, a row-major ``(h * d, width)`` matrix whose row
    ``b * h + a`` is ``W[c0:c0 + width, a, b]``, and ``L`` values follow the last
    block.  ``ldo`` is at least ``channels`` rounded up to a multiple of L: the last
    block's vectors store past ``channels``.  ``next_bank``, the packed weights of the
    bank to run next or NULL, is fetched into L2 while this one computes.
    """
    if floating is double:
        packed_rows(VZERO_F64, p, channels, ldo, h, d, t, ldt, windows, out, next_bank)
    else:
        packed_rows(VZERO_F32, p, channels, ldo, h, d, t, ldt, windows, out, next_bank)
