"""Pooling kernels over the positions of each channel's feature map.

Each ``*_row`` core pools one row of ``n`` positions and ``pool_row`` picks one by the
``Method`` enum of ``_pool.pxd``; the ``def`` wrapper ``pool`` applies it to every row of a
C-contiguous ``(rows, n)`` array with the GIL released.  NaN propagates
as in NumPy: a NaN anywhere in a pooled window makes that window's result NaN.
"""
from cython cimport floating


cdef floating max_row(const floating* v, Py_ssize_t n) noexcept nogil:
    # Four running maxima written as `x if x > m else m` (a packed max instruction) and
    # four running sums: NaN compares false with everything, so the maxima can drop a
    # NaN, but it always reaches the sums.  A NaN sum (a NaN, or inf - inf) sends the row
    # down the exact scalar path.
    cdef Py_ssize_t i
    cdef floating m0 = v[0], m1 = v[0], m2 = v[0], m3 = v[0]
    cdef floating s0 = 0, s1 = 0, s2 = 0, s3 = 0
    for i in range(0, n - 3, 4):
        m0 = v[i] if v[i] > m0 else m0
        m1 = v[i + 1] if v[i + 1] > m1 else m1
        m2 = v[i + 2] if v[i + 2] > m2 else m2
        m3 = v[i + 3] if v[i + 3] > m3 else m3
        s0 += v[i]
        s1 += v[i + 1]
        s2 += v[i + 2]
        s3 += v[i + 3]
    for i in range(n - n % 4, n):
        m0 = v[i] if v[i] > m0 else m0
        s0 += v[i]
    s0 = (s0 + s1) + (s2 + s3)
    if s0 != s0:
        return _exact_max(v, n)
    m0 = m1 if m1 > m0 else m0
    m2 = m3 if m3 > m2 else m2
    return m2 if m2 > m0 else m0


cdef floating _exact_max(const floating* v, Py_ssize_t n) noexcept nogil:
    # The first NaN of the row if there is one (NumPy's result), else the plain max.
    cdef Py_ssize_t i
    cdef floating m = v[0]
    for i in range(n):
        if v[i] != v[i]:
            return v[i]
        if v[i] > m:
            m = v[i]
    return m


cdef floating avg_row(const floating* v, Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t i
    cdef floating s0 = 0, s1 = 0, s2 = 0, s3 = 0
    for i in range(0, n - 3, 4):
        s0 += v[i]
        s1 += v[i + 1]
        s2 += v[i + 2]
        s3 += v[i + 3]
    for i in range(n - n % 4, n):
        s0 += v[i]
    return ((s0 + s1) + (s2 + s3)) / n


cdef inline bint outranks(floating later, floating earlier) noexcept nogil:
    """Whether a value at a later position ranks above one at an earlier position.

    Larger ranks higher and NaN ranks above every number; on a tie the earlier one wins.
    """
    if later != later:
        return earlier == earlier
    return later > earlier


cdef void kmax_row(const floating* v, Py_ssize_t n, Py_ssize_t k, floating* dst,
                   Py_ssize_t* work) noexcept nogil:
    """The k highest-ranked values of the row, in their original order.

    ``work`` holds k positions kept sorted by rank while the row is scanned once, so a
    row costs O(n k) comparisons at worst and about n when k is small.
    """
    cdef Py_ssize_t pos, slot, q, kept = 0, tmp
    cdef floating x
    for pos in range(n):
        x = v[pos]
        if kept == k:
            if not outranks(x, v[work[k - 1]]):
                continue
            slot = k - 1
        else:
            slot = kept
            kept += 1
        while slot > 0 and outranks(x, v[work[slot - 1]]):
            work[slot] = work[slot - 1]
            slot -= 1
        work[slot] = pos
    for q in range(1, k):  # back to position order
        tmp = work[q]
        slot = q
        while slot > 0 and work[slot - 1] > tmp:
            work[slot] = work[slot - 1]
            slot -= 1
        work[slot] = tmp
    for q in range(k):
        dst[q] = v[work[q]]


cdef void chunk_max_row(const floating* v, Py_ssize_t n, Py_ssize_t chunks,
                        floating* dst) noexcept nogil:
    """Max of each of ``chunks`` pieces, split as ``numpy.array_split`` does."""
    cdef Py_ssize_t q = n // chunks, r = n % chunks, start = 0, size, i
    for i in range(chunks):
        size = q + 1 if i < r else q
        dst[i] = max_row(v + start, size)
        start += size


cdef void pool_row(Method method, const floating* v, Py_ssize_t n, Py_ssize_t param,
                   floating* dst, Py_ssize_t* work) noexcept nogil:
    """Pool one row into ``dst``: 1 value, or ``param`` (k or chunks) values.

    ``work`` holds ``param`` positions for k-max pooling.
    """
    if method == MAX:
        dst[0] = max_row(v, n)
    elif method == AVG:
        dst[0] = avg_row(v, n)
    elif method == KMAX:
        kmax_row(v, n, param, dst, work)
    else:
        chunk_max_row(v, n, param, dst)


def pool(const floating[:, ::1] fmap, floating[:, ::1] out, Method method,
         Py_ssize_t[::1] work):
    """Pool every row of ``fmap`` into the same row of ``out``.

    Parameters
    ----------
    fmap : C-contiguous array, shape (rows, positions)
    out : C-contiguous array, shape (rows, width)
        Width 1 for ``MAX`` and ``AVG``, k for ``KMAX``, the number of chunks for
        ``CHUNK_MAX``.
    method : Method
    work : C-contiguous intp array of at least ``width`` elements
        Scratch for k-max pooling.
    """
    cdef Py_ssize_t r
    with nogil:
        for r in range(fmap.shape[0]):
            pool_row(method, &fmap[r, 0], fmap.shape[1], out.shape[1], &out[r, 0], &work[0])
