# The direct convolution for small 2-D filters, in Cython (part of _kernels.pxi).
#
# Why it is fast where the tiles are not: a filter row of 3 to 7 taps is too short to
# vectorise along, but the outputs of one row are many and their windows overlap:
# out[i, j:j + L] += w[a, b] * x[i + a, j + b:j + b + L] is one vector multiply-add on
# contiguous input for every tap (a, b).  A tile keeps 4 channels x 3 vectors of one
# output row in 12 vector registers over all h * w taps; each tap loads 3 input vectors
# and 4 filter values for 12 vector multiply-adds.  The input is read in place (no
# im2col copy) and the output is written once, bias included.
#
# The vectors are those of _vectors.pxi.  On rows of at least a vector of outputs every
# sum runs tap by tap from zero, the bias added last, in the reference's order (each
# output lane is one chain of multiply-adds), so a partial sum that overflows gives inf
# exactly where correlate2d does.  Narrower rows (row_scalar) let the compiler
# reassociate.  NaN and inf go through everywhere.


cdef inline void tile_4x3(vec zero, const floating** wr, Py_ssize_t h, Py_ssize_t wd,
                          const floating* x, Py_ssize_t d, const floating* bias,
                          Py_ssize_t cn, floating* out, Py_ssize_t ldo) noexcept nogil:
    """``out[u * ldo + j] = bias[u] + sum_{a, b} wr[u][a * wd + b] * x[a * d + j + b]``.

    For 4 filters ``wr[u]`` (the first ``cn`` are stored) and ``j < 3 * L``, L the
    vector's lanes: 12 vector accumulators over all ``h * wd`` taps.
    """
    if (vec is vf64 and floating is float) or (vec is vf32 and floating is double):
        return  # a pairing of types Cython generates but nothing calls
    cdef Py_ssize_t lanes = sizeof(vec) // sizeof(floating)
    cdef Py_ssize_t a, b, k
    cdef const floating* xp
    cdef vec x0, x1, x2
    cdef floating f
    cdef vec s00 = zero, s01 = zero, s02 = zero, s10 = zero, s11 = zero, s12 = zero
    cdef vec s20 = zero, s21 = zero, s22 = zero, s30 = zero, s31 = zero, s32 = zero
    for a in range(h):
        for b in range(wd):
            xp = x + a * d + b
            x0 = (<const vec*>xp)[0]
            x1 = (<const vec*>(xp + lanes))[0]
            x2 = (<const vec*>(xp + 2 * lanes))[0]
            k = a * wd + b
            f = wr[0][k]
            s00 = s00 + f * x0
            s01 = s01 + f * x1
            s02 = s02 + f * x2
            f = wr[1][k]
            s10 = s10 + f * x0
            s11 = s11 + f * x1
            s12 = s12 + f * x2
            f = wr[2][k]
            s20 = s20 + f * x0
            s21 = s21 + f * x1
            s22 = s22 + f * x2
            f = wr[3][k]
            s30 = s30 + f * x0
            s31 = s31 + f * x1
            s32 = s32 + f * x2
    store_3(out, lanes, s00 + bias[0], s01 + bias[0], s02 + bias[0])
    if cn > 1:
        store_3(out + ldo, lanes, s10 + bias[1], s11 + bias[1], s12 + bias[1])
    if cn > 2:
        store_3(out + 2 * ldo, lanes, s20 + bias[2], s21 + bias[2], s22 + bias[2])
    if cn > 3:
        store_3(out + 3 * ldo, lanes, s30 + bias[3], s31 + bias[3], s32 + bias[3])


cdef inline void store_3(floating* out, Py_ssize_t lanes, vec v0, vec v1,
                         vec v2) noexcept nogil:
    if (vec is vf64 and floating is float) or (vec is vf32 and floating is double):
        return  # a pairing of types Cython generates but nothing calls
    (<vec*>out)[0] = v0
    (<vec*>(out + lanes))[0] = v1
    (<vec*>(out + 2 * lanes))[0] = v2


cdef inline void tile_4x1(vec zero, const floating** wr, Py_ssize_t h, Py_ssize_t wd,
                          const floating* x, Py_ssize_t d, const floating* bias,
                          Py_ssize_t cn, floating* out, Py_ssize_t ldo) noexcept nogil:
    """As ``tile_4x3`` for one vector of positions, ``j < L``."""
    if (vec is vf64 and floating is float) or (vec is vf32 and floating is double):
        return  # a pairing of types Cython generates but nothing calls
    cdef Py_ssize_t a, b, k
    cdef vec x0
    cdef vec s0 = zero, s1 = zero, s2 = zero, s3 = zero
    for a in range(h):
        for b in range(wd):
            x0 = (<const vec*>(x + a * d + b))[0]
            k = a * wd + b
            s0 = s0 + wr[0][k] * x0
            s1 = s1 + wr[1][k] * x0
            s2 = s2 + wr[2][k] * x0
            s3 = s3 + wr[3][k] * x0
    (<vec*>out)[0] = s0 + bias[0]
    if cn > 1:
        (<vec*>(out + ldo))[0] = s1 + bias[1]
    if cn > 2:
        (<vec*>(out + 2 * ldo))[0] = s2 + bias[2]
    if cn > 3:
        (<vec*>(out + 3 * ldo))[0] = s3 + bias[3]


cdef inline void row_scalar(const floating** wr, Py_ssize_t h, Py_ssize_t wd,
                            const floating* x, Py_ssize_t d, Py_ssize_t p,
                            const floating* bias, Py_ssize_t cn, floating* out,
                            Py_ssize_t ldo) noexcept nogil:
    """One output row of ``cn`` channels, element by element: rows narrower than a vector.

    The one path of this kernel whose sums are not in the reference's order: the
    module's ``-fassociative-math`` lets the compiler split each sum over a filter row
    into vector lanes, which is what makes a full-width filter (one output per row) fast
    here.
    """
    cdef Py_ssize_t u, j, a, b
    cdef floating acc
    for u in range(cn):
        for j in range(p):
            acc = 0
            for a in range(h):
                for b in range(wd):
                    acc = acc + wr[u][a * wd + b] * x[a * d + j + b]
            out[u * ldo + j] = acc + bias[u]


cdef inline void direct_rows(vec zero, const floating* w, Py_ssize_t channels,
                             Py_ssize_t h, Py_ssize_t wd, const floating* x, Py_ssize_t d,
                             Py_ssize_t m, Py_ssize_t p, const floating* bias,
                             floating* out, Py_ssize_t ldo) noexcept nogil:
    """``direct`` for the vector type of ``zero``."""
    cdef Py_ssize_t lanes = sizeof(vec) // sizeof(floating)
    cdef Py_ssize_t c, u, i, q, cn
    cdef const floating* wr[4]
    cdef const floating* xi
    cdef floating* oi
    for c in range(0, channels, 4):
        cn = min(4, channels - c)
        # Past the last channel a tile repeats the block's first filter (valid memory);
        # those sums are not stored.
        for u in range(4):
            wr[u] = w + (c + (u if u < cn else 0)) * h * wd
        for i in range(m):
            xi = x + i * d
            oi = out + c * ldo + i * p
            if p < lanes:
                row_scalar(wr, h, wd, xi, d, p, bias + c, cn, oi, ldo)
                continue
            q = 0
            while q + 3 * lanes <= p:
                tile_4x3(zero, wr, h, wd, xi + q, d, bias + c, cn, oi + q, ldo)
                q += 3 * lanes
            while q + lanes <= p:
                tile_4x1(zero, wr, h, wd, xi + q, d, bias + c, cn, oi + q, ldo)
                q += lanes
            if q < p:
                # The last vector ends at the row's end and overlaps outputs already
                # stored; it recomputes them with the same sums, to the same bits.
                tile_4x1(zero, wr, h, wd, xi + p - lanes, d, bias + c, cn,
                         oi + p - lanes, ldo)


cdef void direct(const floating* w, Py_ssize_t channels, Py_ssize_t h, Py_ssize_t wd,
                 const floating* x, Py_ssize_t d, Py_ssize_t m, Py_ssize_t p,
                 const floating* bias, floating* out, Py_ssize_t ldo) noexcept nogil:
    """``out[c * ldo + i * p + j] = bias[c] + sum_{a, b} w[c, a, b] * x[i + a, j + b]``.

    Blocks of 4 channels outside, output rows inside, and along each row tiles of 3
    vectors of positions, then single vectors, the last one ending at the row's end.
    """
    if floating is double:
        direct_rows(VZERO_F64, w, channels, h, wd, x, d, m, p, bias, out, ldo)
    else:
        direct_rows(VZERO_F32, w, channels, h, wd, x, d, m, p, bias, out, ldo)
