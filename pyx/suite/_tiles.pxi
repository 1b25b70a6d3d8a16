# The register-blocked tiles kernel, in Cython (part of _kernels.pxi): plain loops,
# vectorised by the C compiler for each instruction set the module is built for.
#
# Why it is fast: for one sentence x (n rows of d) and filters w (channels, h, wd), the
# window of output position q = i * p + j has the segments x[i + a, j:j + wd], a < h.
# Every filter row and every window segment is contiguous, so a tile of 4 channels x 3
# positions is 12 dot products along contiguous memory: the inner loop loads 3 window
# values and 4 filter values for 12 multiply-adds, and the compiler turns its 12 scalar
# sums into 12 vector accumulators (a vectorised reduction: the module is compiled with
# -fassociative-math and its companions, see setup.py, and never with -ffinite-math-only,
# so NaN and inf go through as in the reference).  No copy of the input, no BLAS call:
# what short sentences, where a GEMM call's fixed cost counts, want.
cdef inline void dot_4x3(const floating* w0, const floating* w1, const floating* w2,
                         const floating* w3, const floating* x0, const floating* x1,
                         const floating* x2, Py_ssize_t n, floating* acc) noexcept nogil:
    """``acc[3 * u + v] += dot(w_u[:n], x_v[:n])`` for 4 filters u and 3 windows v."""
    cdef Py_ssize_t k
    cdef floating f, y0, y1, y2
    cdef floating s00 = 0, s01 = 0, s02 = 0, s10 = 0, s11 = 0, s12 = 0
    cdef floating s20 = 0, s21 = 0, s22 = 0, s30 = 0, s31 = 0, s32 = 0
    for k in range(n):
        y0 = x0[k]
        y1 = x1[k]
        y2 = x2[k]
        f = w0[k]
        s00 += f * y0
        s01 += f * y1
        s02 += f * y2
        f = w1[k]
        s10 += f * y0
        s11 += f * y1
        s12 += f * y2
        f = w2[k]
        s20 += f * y0
        s21 += f * y1
        s22 += f * y2
        f = w3[k]
        s30 += f * y0
        s31 += f * y1
        s32 += f * y2
    acc[0] += s00
    acc[1] += s01
    acc[2] += s02
    acc[3] += s10
    acc[4] += s11
    acc[5] += s12
    acc[6] += s20
    acc[7] += s21
    acc[8] += s22
    acc[9] += s30
    acc[10] += s31
    acc[11] += s32


cdef inline void dot_4x2(const floating* w0, const floating* w1, const floating* w2,
                         const floating* w3, const floating* x0, const floating* x1,
                         Py_ssize_t n, floating* acc) noexcept nogil:
    """As ``dot_4x3`` for 2 windows: ``acc[3 * u + v]``, v < 2."""
    cdef Py_ssize_t k
    cdef floating y0, y1
    cdef floating s00 = 0, s01 = 0, s10 = 0, s11 = 0, s20 = 0, s21 = 0, s30 = 0, s31 = 0
    for k in range(n):
        y0 = x0[k]
        y1 = x1[k]
        s00 += w0[k] * y0
        s01 += w0[k] * y1
        s10 += w1[k] * y0
        s11 += w1[k] * y1
        s20 += w2[k] * y0
        s21 += w2[k] * y1
        s30 += w3[k] * y0
        s31 += w3[k] * y1
    acc[0] += s00
    acc[1] += s01
    acc[3] += s10
    acc[4] += s11
    acc[6] += s20
    acc[7] += s21
    acc[9] += s30
    acc[10] += s31


cdef inline void dot_4x1(const floating* w0, const floating* w1, const floating* w2,
                         const floating* w3, const floating* x0, Py_ssize_t n,
                         floating* acc) noexcept nogil:
    """As ``dot_4x3`` for 1 window: ``acc[3 * u]``."""
    cdef Py_ssize_t k
    cdef floating y0
    cdef floating s0 = 0, s1 = 0, s2 = 0, s3 = 0
    for k in range(n):
        y0 = x0[k]
        s0 += w0[k] * y0
        s1 += w1[k] * y0
        s2 += w2[k] * y0
        s3 += w3[k] * y0
    acc[0] += s0
    acc[3] += s1
    acc[6] += s2
    acc[9] += s3


cdef inline Py_ssize_t tile_width(Py_ssize_t remaining) noexcept nogil:
    """Positions in the next tile: 3, but 2 + 2 for the last 4 and what is left at the end.

    Short sentences have few windows (an utterance of 8 words, 4 to 7 per bank): a tile
    of 3 that repeats windows past the last does a third or more of its work for nothing.
    """
    if remaining == 4:
        return 2
    return 3 if remaining >= 3 else remaining


cdef void tiles(const floating* w, Py_ssize_t channels, Py_ssize_t h, Py_ssize_t wd,
                const floating* x, Py_ssize_t d, Py_ssize_t m, Py_ssize_t p,
                const floating* bias, floating* out, Py_ssize_t ldo) noexcept nogil:
    """``out[c * ldo + q] = bias[c] + sum_{a, b} w[c, a, b] * x[i + a, j + b]``.

    For every channel ``c < channels`` and position ``q = i * p + j < m * p``; blocks of
    4 channels outside, tiles of 3 positions inside (2 or 1 at the end, see
    ``tile_width``), each tile's sums kept in registers over all the segments of its
    windows.  A full-width filter (``p == 1``,
    ``wd == d``) and its window are each one contiguous run of ``h * wd`` values, so the
    tile is one loop of that length rather than ``h`` short ones.
    """
    cdef Py_ssize_t positions = m * p
    cdef Py_ssize_t length = h * wd if p == 1 else wd
    cdef Py_ssize_t segments = 1 if p == 1 else h
    cdef Py_ssize_t c, q, a, u, v, width
    cdef const floating* wr[4]
    cdef const floating* xr[3]
    cdef floating acc[12]
    for c in range(0, channels, 4):
        # Past the last channel a tile repeats its first filter (valid memory) and the
        # surplus sums are not stored.
        for u in range(4):
            wr[u] = w + (c + (u if c + u < channels else 0)) * h * wd
        q = 0
        while q < positions:
            width = tile_width(positions - q)
            for v in range(width):
                xr[v] = x + ((q + v) // p) * d + (q + v) % p
            for u in range(12):
                acc[u] = 0
            for a in range(segments):
                if width == 3:
                    dot_4x3(wr[0] + a * wd, wr[1] + a * wd, wr[2] + a * wd, wr[3] + a * wd,
                            xr[0] + a * d, xr[1] + a * d, xr[2] + a * d, length, acc)
                elif width == 2:
                    dot_4x2(wr[0] + a * wd, wr[1] + a * wd, wr[2] + a * wd, wr[3] + a * wd,
                            xr[0] + a * d, xr[1] + a * d, length, acc)
                else:
                    dot_4x1(wr[0] + a * wd, wr[1] + a * wd, wr[2] + a * wd, wr[3] + a * wd,
                            xr[0] + a * d, length, acc)
            for u in range(min(4, channels - c)):
                for v in range(width):
                    out[(c + u) * ldo + q + v] = bias[c + u] + acc[3 * u + v]
            q += width

