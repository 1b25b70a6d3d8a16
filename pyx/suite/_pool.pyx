"""Pooling kernels over the positions of each channel's feature map.

Each ``*_row`` core pools one row of ``n`` positions and ``pool_row`` picks one by the
``Method`` enum of ``_pool.pxd``; the ``def`` wrapper ``pool`` applies it to every row of a
C-contiguous ``(rows, n)`` array with the GIL released.  NaN propagates
as in NumPy: a NaN anywhere in a pooled window makes that window's result NaN.

The reductions of max, avg and chunk-max pooling are the vector kernels of
``_reduce.pxi``, compiled once per instruction set, from the table of the build
``suite._runtime`` chose at import; the rows they decline (a NaN, a zero maximum, fewer
positions than a vector) take the scalar path here, so max pooling gives the same bits
in every build.
"""
from cython cimport floating

from suite._kernels_api cimport Kernels
from suite._runtime cimport kernel_table

# The table of the build suite._runtime chose, copied once, at import.
cdef Kernels kernels = kernel_table()[0]


cdef floating max_row(const floating* v, Py_ssize_t n) noexcept nogil:
    cdef floating m
    cdef bint vector
    if floating is double:
        vector = kernels.max_f64(v, n, &m)
    else:
        vector = kernels.max_f32(v, n, &m)
    return m if vector else _scalar_max(v, n)


cdef floating _scalar_max(const floating* v, Py_ssize_t n) noexcept nogil:
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
    cdef floating total
    if floating is double:
        total = kernels.sum_f64(v, n)
    else:
        total = kernels.sum_f32(v, n)
    return total / n


cdef inline bint outranks(floating later, floating earlier) noexcept nogil:
    """Whether a value at a later position ranks above one at an earlier position.

    Larger ranks higher and NaN ranks above every number; on a tie the earlier one wins.
    """
    if later != later:
        return earlier == earlier
    return later > earlier


cdef inline bint below(floating a, Py_ssize_t p, floating b, Py_ssize_t q) noexcept nogil:
    """Whether value ``a`` at position ``p`` ranks below ``b`` at ``q`` (``p != q``).

    The order of ``outranks``, for positions in either order: a strict total order, so
    the k highest-ranked values of a row are one set, whatever order they are met in.
    """
    if a == b:
        return p > q
    if a != a:
        return b != b and p > q
    return b != b or a < b


cdef inline void sift_down(floating* value, Py_ssize_t* position, Py_ssize_t size,
                           Py_ssize_t i, floating x, Py_ssize_t pos) noexcept nogil:
    # Put (x, pos) into the heap at slot i, whose children are heaps: the lower-ranked
    # child moves up until (x, pos) ranks below both children.  The heap keeps each
    # entry's value beside its position, so a comparison reads no row.
    cdef Py_ssize_t child
    while True:
        child = 2 * i + 1
        if child >= size:
            break
        if child + 1 < size and below(value[child + 1], position[child + 1],
                                      value[child], position[child]):
            child += 1
        if not below(value[child], position[child], x, pos):
            break
        value[i], position[i] = value[child], position[child]
        i = child
    value[i], position[i] = x, pos


cdef enum:
    # Up to this k the scan keeps the k best sorted by insertion: about n comparisons
    # when few values enter, at most k moves when one does, and no set-up (maps of a
    # sentence are a few dozen positions).  Above it a quickselect on a copy of the row
    # finds the k-th value in O(n) expected time.
    KMAX_INSERTION = 16


cdef void insertion_kmax(const floating* v, Py_ssize_t n, Py_ssize_t k, floating* dst,
                         Py_ssize_t* work) noexcept nogil:
    # ``work`` holds k positions kept sorted by rank while the row is scanned once.
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


cdef void heap_kmax(const floating* v, Py_ssize_t n, Py_ssize_t k, floating* dst,
                    Py_ssize_t* work) noexcept nogil:
    # ``dst`` and ``work`` hold a heap of the k best values so far and their positions,
    # the lowest-ranked at the root; a later value enters only when it outranks the root,
    # so a row costs O(n log k) comparisons whatever its order.  The k kept are then
    # exactly the values that rank at or above the root: a pass over the row writes them
    # out in position order.
    cdef Py_ssize_t pos, q, last
    cdef floating threshold
    for q in range(k):
        dst[q], work[q] = v[q], q
    for q in range(k // 2 - 1, -1, -1):
        sift_down(dst, work, k, q, dst[q], work[q])
    for pos in range(k, n):
        if outranks(v[pos], dst[0]):
            sift_down(dst, work, k, 0, v[pos], pos)
    threshold, last = dst[0], work[0]
    q = 0
    for pos in range(n):
        if pos == last or below(threshold, last, v[pos], pos):
            dst[q] = v[pos]
            q += 1


cdef bint select_descending(floating* a, Py_ssize_t m, Py_ssize_t r,
                            floating* result) noexcept nogil:
    # Quickselect: the value at index r of a[0:m] (no NaN) sorted in descending order,
    # into result; a is reordered.  Median-of-three pivots and Hoare partitions (equal
    # values split evenly).  False when the partitions went deeper than 2 log2(m): an
    # adversarial row, which the caller hands to the heap, O(n log k) whatever the row.
    cdef Py_ssize_t lo = 0, hi = m - 1, i, j, mid, depth = 2
    cdef floating pivot, x, y, z
    while (<Py_ssize_t>1 << depth) < m and depth < 62:
        depth += 1
    depth *= 2
    while hi > lo:
        if depth == 0:
            return False
        depth -= 1
        mid = lo + (hi - lo) // 2
        x, y, z = a[lo], a[mid], a[hi]
        if x < y:
            x, y = y, x
        if y < z:
            y = z if x > z else x
        pivot = y
        i, j = lo, hi
        while i <= j:
            while a[i] > pivot:
                i += 1
            while a[j] < pivot:
                j -= 1
            if i <= j:
                a[i], a[j] = a[j], a[i]
                i += 1
                j -= 1
        if r <= j:
            hi = j
        elif r >= i:
            lo = i
        else:
            break
    result[0] = a[r]
    return True


cdef void kmax_row(const floating* v, Py_ssize_t n, Py_ssize_t k, floating* dst,
                   Py_ssize_t* work) noexcept nogil:
    """The k highest-ranked values of the row, in their original order (``1 <= k <= n``).

    ``work`` has room for n positions (or n values: a position is at least as wide).
    For k up to ``KMAX_INSERTION`` a scan keeps the best k sorted (at most k moves per
    value, so O(n) for these k); above it a quickselect finds the k-th value T on a copy
    of the row, and one pass in position order writes every NaN, every value above T
    and, earliest first, as many values equal to T as complete the k.  O(n) expected
    and, through a heap when the quickselect degenerates, O(n log k) at worst.
    """
    cdef floating* copy = <floating*>work
    cdef Py_ssize_t pos, q = 0, nans = 0, m = 0, equal
    cdef bint tie
    cdef floating x, threshold
    if k <= KMAX_INSERTION:
        insertion_kmax(v, n, k, dst, work)
        return
    for pos in range(n):
        x = v[pos]
        if x != x:
            nans += 1
        else:
            copy[m] = x
            m += 1
    if nans >= k:  # the first k NaNs
        for pos in range(n):
            if q < k and v[pos] != v[pos]:
                dst[q] = v[pos]
                q += 1
        return
    if not select_descending(copy, m, k - nans - 1, &threshold):
        heap_kmax(v, n, k, dst, work)
        return
    equal = k - nans
    for pos in range(n):
        equal -= v[pos] > threshold
    # Branch-free (the copy is free again and has room for n): on a row in random
    # order, whether a value is kept is a coin toss the branch predictor loses.
    for pos in range(n):
        x = v[pos]
        tie = x == threshold and equal > 0
        copy[q] = x
        q += (x != x) | (x > threshold) | tie
        equal -= tie
    for q in range(k):
        dst[q] = copy[q]


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

    ``work`` has room for ``n`` positions for k-max pooling (``kmax_row``).
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
    work : C-contiguous intp array of at least ``positions`` elements
        Scratch for k-max pooling (any size for the other methods).
    """
    cdef Py_ssize_t r
    with nogil:
        for r in range(fmap.shape[0]):
            pool_row(method, &fmap[r, 0], fmap.shape[1], out.shape[1], &out[r, 0], &work[0])
