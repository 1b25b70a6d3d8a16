# Full-width filters over one sentence with the weights packed beforehand, in Cython
# (part of _kernels.pxi): the kernel of suite.TextCNN, whose weights are fixed.
#
# With w == d every output is a dot product of length K = h * d: out[q, c] = sum over
# a < h, b < d of W[c, a, b] * X[q + a, b].  The tiles take those dot products one by one
# and end each with horizontal sums; here the vectors run along the channels instead.
# The weights are packed once (``suite.model.pack_filters``) as blocks of 2 vectors of
# channels, each block a (K, 2L) matrix with tap (a, b) in row b * h + a, and the sentence
# comes transposed, T[b, r] = X[r, b], so that the values a tile broadcasts for its
# windows, X[q0 + i + a, b] for i < nq, are nq neighbours T[b, q0 + a + i]: one pointer,
# constant offsets, and for the h taps of a column one or two cache lines.  For each
# tap (a, b) a tile loads the weights of one or two vectors of channels and does one
# vector multiply-add per window and vector, into as many accumulators; no horizontal
# sum at the end.
#
# The weights do not fit in L2 (2.1 MB for the seed's classifier in float32): each pass
# over a block reads them again, so the windows are split into as few passes as the
# registers allow, of equal shares, and each pass takes the tile of the fewest windows
# that holds its share (any of 2 to 12 windows; 12 with AVX-512's 32 vector registers,
# 6 otherwise).  With AVX-512 a sentence of 16 morphemes then computes 16, 14, 14 and
# 12 windows for its banks of 15, 14, 13 and 12, where tiles of a fixed 12 and 6
# computed 18, 18, 18 and 12.
# Nothing is padded: a call reads exactly the bank's weights, which, when other work
# ran since the last call, come from memory.  A tile past the last window computes
# windows that are not stored: T has ``PACKED_PAD`` columns to spare, and the caller
# zeroes them.

cdef extern from *:
    """
    typedef struct { char size[16 * 1 + 2]; } suite_tile_1x2;
    typedef struct { char size[16 * 1 + 3]; } suite_tile_1x3;
    typedef struct { char size[16 * 1 + 4]; } suite_tile_1x4;
    typedef struct { char size[16 * 1 + 5]; } suite_tile_1x5;
    typedef struct { char size[16 * 1 + 6]; } suite_tile_1x6;
    typedef struct { char size[16 * 1 + 7]; } suite_tile_1x7;
    typedef struct { char size[16 * 1 + 8]; } suite_tile_1x8;
    typedef struct { char size[16 * 1 + 9]; } suite_tile_1x9;
    typedef struct { char size[16 * 1 + 10]; } suite_tile_1x10;
    typedef struct { char size[16 * 1 + 11]; } suite_tile_1x11;
    typedef struct { char size[16 * 1 + 12]; } suite_tile_1x12;
    typedef struct { char size[16 * 2 + 2]; } suite_tile_2x2;
    typedef struct { char size[16 * 2 + 3]; } suite_tile_2x3;
    typedef struct { char size[16 * 2 + 4]; } suite_tile_2x4;
    typedef struct { char size[16 * 2 + 5]; } suite_tile_2x5;
    typedef struct { char size[16 * 2 + 6]; } suite_tile_2x6;
    typedef struct { char size[16 * 2 + 7]; } suite_tile_2x7;
    typedef struct { char size[16 * 2 + 8]; } suite_tile_2x8;
    typedef struct { char size[16 * 2 + 9]; } suite_tile_2x9;
    typedef struct { char size[16 * 2 + 10]; } suite_tile_2x10;
    typedef struct { char size[16 * 2 + 11]; } suite_tile_2x11;
    typedef struct { char size[16 * 2 + 12]; } suite_tile_2x12;
    """
    void prefetch_l2 "__builtin_prefetch"(const void* address, int rw, int locality) nogil
    # The shapes of the tiles, vectors of channels x windows, as types whose size is
    # 16 * vectors + windows: each shape is a specialisation of packed_tile in which both
    # counts are constants, so that the C compiler unrolls its loops over them and keeps
    # the accumulators in registers.
    ctypedef struct T1x2 "suite_tile_1x2":
        pass
    ctypedef struct T1x3 "suite_tile_1x3":
        pass
    ctypedef struct T1x4 "suite_tile_1x4":
        pass
    ctypedef struct T1x5 "suite_tile_1x5":
        pass
    ctypedef struct T1x6 "suite_tile_1x6":
        pass
    ctypedef struct T1x7 "suite_tile_1x7":
        pass
    ctypedef struct T1x8 "suite_tile_1x8":
        pass
    ctypedef struct T1x9 "suite_tile_1x9":
        pass
    ctypedef struct T1x10 "suite_tile_1x10":
        pass
    ctypedef struct T1x11 "suite_tile_1x11":
        pass
    ctypedef struct T1x12 "suite_tile_1x12":
        pass
    ctypedef struct T2x2 "suite_tile_2x2":
        pass
    ctypedef struct T2x3 "suite_tile_2x3":
        pass
    ctypedef struct T2x4 "suite_tile_2x4":
        pass
    ctypedef struct T2x5 "suite_tile_2x5":
        pass
    ctypedef struct T2x6 "suite_tile_2x6":
        pass
    ctypedef struct T2x7 "suite_tile_2x7":
        pass
    ctypedef struct T2x8 "suite_tile_2x8":
        pass
    ctypedef struct T2x9 "suite_tile_2x9":
        pass
    ctypedef struct T2x10 "suite_tile_2x10":
        pass
    ctypedef struct T2x11 "suite_tile_2x11":
        pass
    ctypedef struct T2x12 "suite_tile_2x12":
        pass

ctypedef fused tile:
    T1x2
    T1x3
    T1x4
    T1x5
    T1x6
    T1x7
    T1x8
    T1x9
    T1x10
    T1x11
    T1x12
    T2x2
    T2x3
    T2x4
    T2x5
    T2x6
    T2x7
    T2x8
    T2x9
    T2x10
    T2x11
    T2x12

cdef void packed_tile(vec zero, const tile* shape, const floating* p, Py_ssize_t stride,
                      Py_ssize_t h, Py_ssize_t d, const floating* t, Py_ssize_t ldt,
                      Py_ssize_t q0, Py_ssize_t windows, floating* out, Py_ssize_t ldo,
                      const floating* ahead) noexcept nogil:
    """``out[q * ldo + c] = sum_{a, b} p[(b * h + a) * stride + c] * t[b * ldt + q + a]``
    for the ``cv * L`` channels of the tile's shape, ``cv`` x ``nq``, and its windows
    ``q0 <= q < min(q0 + nq, windows)``.

    Unless ``ahead`` is NULL, each tap also asks for the same row of the next block's
    weights (``ahead``, ``stride`` apart) to be brought into L2: the block after this
    one then streams in from memory while this one computes.
    """
    if (vec is vf64 and floating is float) or (vec is vf32 and floating is double):
        return  # a pairing of types Cython generates but nothing calls
    cdef Py_ssize_t cv = sizeof(tile) // 16, nq = sizeof(tile) % 16
    cdef Py_ssize_t lanes = sizeof(vec) // sizeof(floating)
    cdef Py_ssize_t a, b, i, j
    cdef const floating* pk = p
    cdef const floating* tb
    cdef vec w[2]
    cdef vec acc[24]
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


cdef inline void tile_pass(vec zero, int cv, Py_ssize_t nq, const floating* p,
                           Py_ssize_t stride, Py_ssize_t h, Py_ssize_t d, const floating* t,
                           Py_ssize_t ldt, Py_ssize_t q0, Py_ssize_t windows, floating* out,
                           Py_ssize_t ldo, const floating* ahead) noexcept nogil:
    """The tile of ``cv`` vectors and the fewest windows, at least ``nq`` (up to 12)."""
    if cv == 2:
        if nq <= 2:
            packed_tile(zero, <T2x2*>NULL, p, stride, h, d, t, ldt, q0, windows,
                        out, ldo, ahead)
        elif nq <= 3:
            packed_tile(zero, <T2x3*>NULL, p, stride, h, d, t, ldt, q0, windows,
                        out, ldo, ahead)
        elif nq <= 4:
            packed_tile(zero, <T2x4*>NULL, p, stride, h, d, t, ldt, q0, windows,
                        out, ldo, ahead)
        elif nq <= 5:
            packed_tile(zero, <T2x5*>NULL, p, stride, h, d, t, ldt, q0, windows,
                        out, ldo, ahead)
        elif nq <= 6:
            packed_tile(zero, <T2x6*>NULL, p, stride, h, d, t, ldt, q0, windows,
                        out, ldo, ahead)
        elif nq <= 7:
            packed_tile(zero, <T2x7*>NULL, p, stride, h, d, t, ldt, q0, windows,
                        out, ldo, ahead)
        elif nq <= 8:
            packed_tile(zero, <T2x8*>NULL, p, stride, h, d, t, ldt, q0, windows,
                        out, ldo, ahead)
        elif nq <= 9:
            packed_tile(zero, <T2x9*>NULL, p, stride, h, d, t, ldt, q0, windows,
                        out, ldo, ahead)
        elif nq <= 10:
            packed_tile(zero, <T2x10*>NULL, p, stride, h, d, t, ldt, q0, windows,
                        out, ldo, ahead)
        elif nq <= 11:
            packed_tile(zero, <T2x11*>NULL, p, stride, h, d, t, ldt, q0, windows,
                        out, ldo, ahead)
        else:
            packed_tile(zero, <T2x12*>NULL, p, stride, h, d, t, ldt, q0, windows,
                        out, ldo, ahead)
    else:
        if nq <= 2:
            packed_tile(zero, <T1x2*>NULL, p, stride, h, d, t, ldt, q0, windows,
                        out, ldo, ahead)
        elif nq <= 3:
            packed_tile(zero, <T1x3*>NULL, p, stride, h, d, t, ldt, q0, windows,
                        out, ldo, ahead)
        elif nq <= 4:
            packed_tile(zero, <T1x4*>NULL, p, stride, h, d, t, ldt, q0, windows,
                        out, ldo, ahead)
        elif nq <= 5:
            packed_tile(zero, <T1x5*>NULL, p, stride, h, d, t, ldt, q0, windows,
                        out, ldo, ahead)
        elif nq <= 6:
            packed_tile(zero, <T1x6*>NULL, p, stride, h, d, t, ldt, q0, windows,
                        out, ldo, ahead)
        elif nq <= 7:
            packed_tile(zero, <T1x7*>NULL, p, stride, h, d, t, ldt, q0, windows,
                        out, ldo, ahead)
        elif nq <= 8:
            packed_tile(zero, <T1x8*>NULL, p, stride, h, d, t, ldt, q0, windows,
                        out, ldo, ahead)
        elif nq <= 9:
            packed_tile(zero, <T1x9*>NULL, p, stride, h, d, t, ldt, q0, windows,
                        out, ldo, ahead)
        elif nq <= 10:
            packed_tile(zero, <T1x10*>NULL, p, stride, h, d, t, ldt, q0, windows,
                        out, ldo, ahead)
        elif nq <= 11:
            packed_tile(zero, <T1x11*>NULL, p, stride, h, d, t, ldt, q0, windows,
                        out, ldo, ahead)
        else:
            packed_tile(zero, <T1x12*>NULL, p, stride, h, d, t, ldt, q0, windows,
                        out, ldo, ahead)

cdef inline void packed_rows(vec zero, const floating* p, Py_ssize_t channels,
                             Py_ssize_t ldo, Py_ssize_t h, Py_ssize_t d, const floating* t,
                             Py_ssize_t ldt, Py_ssize_t windows, floating* out,
                             const floating* next_bank) noexcept nogil:
    """``packed`` for the vector type of ``zero``."""
    cdef Py_ssize_t lanes = sizeof(vec) // sizeof(floating)
    cdef Py_ssize_t k_len = h * d
    cdef Py_ssize_t c = 0, q, width
    # The windows are split into as few passes as the registers allow, 12 windows with
    # AVX-512's 32 vector registers and 6 otherwise, of equal shares: 15 windows are two
    # passes of 8, not one of 12 and one of 3 (each pass reads the block's weights).
    cdef Py_ssize_t most = 12 if SUITE_VECTOR_BYTES == 64 else 6
    cdef Py_ssize_t passes = (windows + most - 1) // most
    cdef Py_ssize_t nq = (windows + passes - 1) // passes
    cdef const floating* ahead
    while c + 2 * lanes <= channels:
        # The next block's weights are fetched during the first pass over this one
        # (when it is a block of two vectors too, laid out as this one); after the
        # last such block, the first block of the next bank.
        ahead = p + (c + 2 * lanes) * k_len if c + 4 * lanes <= channels else next_bank
        q = 0
        while q < windows:
            tile_pass(zero, 2, nq, p + c * k_len, 2 * lanes, h, d, t, ldt, q, windows,
                      out + c, ldo, ahead)
            ahead = NULL
            q += nq
        c += 2 * lanes
    while c < channels:
        # One vector of channels, then what is left: a block narrower than a vector,
        # its rows ``width`` apart, read a whole vector at a time (the lanes past
        # ``channels`` compute with the next rows' weights and are never read).
        width = min(lanes, channels - c)
        q = 0
        while q < windows:
            tile_pass(zero, 1, nq, p + c * k_len, width, h, d, t, ldt, q, windows,
                      out + c, ldo, NULL)
            q += nq
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
