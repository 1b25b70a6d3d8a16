"""Feature-map kernels: valid 2-D cross-correlation of sentences with a filter bank, plus bias.

Every core is a ``noexcept nogil`` function over raw pointers described by a ``Geometry``,
named by the ``Core`` enum of ``_conv.pxd``.  The one ``def`` wrapper, ``feature_map``,
takes C-contiguous typed memoryviews (the Python layer in ``suite._api`` normalises
inputs) and runs a core with the GIL released, on one thread or over OpenMP tasks.
"""
from cython cimport floating
from cython.parallel cimport prange, threadid
from libc.stdint cimport uintptr_t
from libc.stdlib cimport calloc, free, malloc

from suite._blas cimport gemm_nt
from suite._kernels_api cimport PACKED_PAD, Kernels, kernel_f32_t, kernel_f64_t
from suite._runtime cimport kernel_table

from suite._runtime import VECTOR_BYTES as _VECTOR_BYTES

# The table of the build suite._runtime chose, copied once, at import.
cdef Kernels kernels = kernel_table()[0]
# The bytes of its vectors: the packed kernel's weights come in blocks of 2 vectors.
cdef Py_ssize_t vector_bytes = _VECTOR_BYTES

# Rows (sentences x words) per batch slice, the unit of work of the GEMMs, the OpenMP
# tasks and the fused tiles: enough for BLAS to run near its peak and for tasks to
# outweigh their scheduling, few enough that a slice's feature maps stay in L2.
cdef enum:
    SLICE_ROWS = 512


cdef Geometry make_geometry(Py_ssize_t batch, Py_ssize_t n, Py_ssize_t d,
                            Py_ssize_t channels, Py_ssize_t h, Py_ssize_t w) noexcept nogil:
    cdef Geometry g
    g.batch, g.n, g.d = batch, n, d
    g.channels, g.h, g.w = channels, h, w
    g.m, g.p = n - h + 1, d - w + 1
    g.out_batch_stride = channels * g.m * g.p
    return g


cdef inline Py_ssize_t slice_sentences(Geometry g) noexcept nogil:
    return max(1, min(g.batch, SLICE_ROWS // g.n))


cdef inline Py_ssize_t round_up(Py_ssize_t n, Py_ssize_t unit) noexcept nogil:
    return (n + unit - 1) // unit * unit


cdef Py_ssize_t core_scratch_size(Core core, Geometry g) noexcept nogil:
    """Elements of scratch that ``core`` needs for this geometry (``BLAS`` and ``PACKED``)."""
    # Sized by float32's lanes, the most per vector: enough for either dtype.
    cdef Py_ssize_t lanes = vector_bytes // sizeof(float)
    if core == PACKED:
        # 64 bytes to align the weights, the packed weights and the lanes after them, the
        # transposed sentence, then one output column's (m, channels) maps.
        return (16 + round_up(g.channels * g.h * g.w + lanes, 16)
                + g.d * (g.n + PACKED_PAD) + g.m * round_up(g.channels, lanes))
    if core != BLAS:
        return 0
    if g.p == 1:
        if g.batch == 1:
            return 0  # the GEMMs accumulate straight into the output
        return g.channels * (g.batch * g.n - g.h + 1)
    return g.p * g.channels * g.m


cdef void fmap_loops(Geometry g, const floating* x, const floating* w,
                     const floating* bias, floating* out) noexcept nogil:
    """The plain loop nest: one accumulator per output element."""
    cdef Py_ssize_t s, c, i, j, a, b
    cdef floating acc
    for s in range(g.batch):
        for c in range(g.channels):
            for i in range(g.m):
                for j in range(g.p):
                    acc = 0
                    for a in range(g.h):
                        for b in range(g.w):
                            acc = acc + (x[(s * g.n + i + a) * g.d + j + b]
                                         * w[(c * g.h + a) * g.w + b])
                    out[s * g.out_batch_stride + (c * g.m + i) * g.p + j] = acc + bias[c]


cdef void fmap_seed(Geometry g, const floating* x, const floating* w,
                    const floating* bias, floating* out) noexcept nogil:
    """The production kernel's method: a pointer walk along the contiguous axis.

    For an even filter width the dot product along that axis is split into the halves
    ``[0, w/2)`` and ``[w/2, w)``, walked in the same loop into two accumulators: two
    independent dependency chains, so consecutive multiply-adds can overlap in the FPU.
    An odd width takes the plain single-accumulator path.
    """
    cdef Py_ssize_t s, c, i, j, _row, b
    cdef Py_ssize_t half = g.w // 2
    cdef bint speedup = g.w % 2 == 0
    cdef const floating* embed_start
    cdef const floating* embed1
    cdef const floating* embed2
    cdef const floating* conv1
    cdef const floating* conv2
    cdef floating acc1, acc2
    cdef floating* fmap
    for c in range(g.channels):
        for s in range(g.batch):
            fmap = out + s * g.out_batch_stride + c * g.m * g.p
            for i in range(g.m):
                for j in range(g.p):
                    embed_start = x + (s * g.n + i) * g.d + j
                    conv1 = w + c * g.h * g.w
                    acc1 = 0
                    acc2 = 0
                    if speedup:
                        for _row in range(g.h):
                            embed1 = embed_start
                            embed2 = embed_start + half
                            conv2 = conv1 + half
                            for b in range(half):
                                acc1 = acc1 + embed1[b] * conv1[b]
                                acc2 = acc2 + embed2[b] * conv2[b]
                            embed_start += g.d
                            conv1 += g.w
                    else:
                        for _row in range(g.h):
                            for b in range(g.w):
                                acc1 = acc1 + embed_start[b] * conv1[b]
                            embed_start += g.d
                            conv1 += g.w
                    fmap[0] = acc1 + acc2 + bias[c]
                    fmap += 1


cdef void fmap_table(Core core, Geometry g, const floating* x, const floating* w,
                     const floating* bias, floating* out) noexcept nogil:
    """A kernel of the table (``tiles``, ``simd`` or ``direct``), one sentence at a time.

    Each sentence's windows stay in L2 while every block of filters passes over them.
    The kernels are those of the build chosen at import (``suite._runtime``): the Cython
    register tiles of ``_tiles.pxi``, the C tiles of ``_simd.h``, and the direct
    convolution of ``_direct.pxi`` for small 2-D filters.
    """
    cdef Py_ssize_t s
    cdef kernel_f64_t f64
    cdef kernel_f32_t f32
    if floating is double:
        f64 = (kernels.tiles_f64 if core == TILES else
               kernels.simd_f64 if core == SIMD else kernels.direct_f64)
        for s in range(g.batch):
            f64(w, g.channels, g.h, g.w, x + s * g.n * g.d, g.d, g.m, g.p, bias,
                out + s * g.out_batch_stride, g.m * g.p)
    else:
        f32 = (kernels.tiles_f32 if core == TILES else
               kernels.simd_f32 if core == SIMD else kernels.direct_f32)
        for s in range(g.batch):
            f32(w, g.channels, g.h, g.w, x + s * g.n * g.d, g.d, g.m, g.p, bias,
                out + s * g.out_batch_stride, g.m * g.p)


cdef void packed_bank(const floating* packed, Py_ssize_t channels, Py_ssize_t ldo,
                      Py_ssize_t h, Py_ssize_t d, const floating* t, Py_ssize_t ldt,
                      Py_ssize_t windows, floating* out,
                      const floating* next_bank) noexcept nogil:
    """The packed-weight kernel of ``_packed.pxi`` in the build chosen at import:
    ``out[q * ldo + c]`` for the full-width filters packed by
    ``suite.model.pack_filters`` over the transposed sentence ``t``."""
    if floating is double:
        kernels.packed_f64(packed, channels, ldo, h, d, t, ldt, windows, out, next_bank)
    else:
        kernels.packed_f32(packed, channels, ldo, h, d, t, ldt, windows, out, next_bank)


cdef inline void transpose(const floating* src, Py_ssize_t rows, Py_ssize_t cols,
                           Py_ssize_t lds, floating* dst, Py_ssize_t ldd) noexcept nogil:
    """``dst[c * ldd + r] = src[r * lds + c]``, in the vector registers of the build
    chosen at import (``_transpose.pxi``)."""
    if floating is double:
        kernels.transpose_f64(src, rows, cols, lds, dst, ldd)
    else:
        kernels.transpose_f32(src, rows, cols, lds, dst, ldd)


cdef void pack_bank(const floating* w, Py_ssize_t channels, Py_ssize_t h, Py_ssize_t wd,
                    Py_ssize_t lanes, floating* packed) noexcept nogil:
    """The ``channels`` filters ``w`` (``(channels, h, wd)``, C order) in the layout of
    ``suite.model.pack_filters``, ``channels * h * wd + lanes`` elements into ``packed``:
    blocks of ``2 * lanes`` channels, then one of ``lanes`` and one of fewer, block ``c0``
    of ``width`` channels at ``c0 * h * wd`` with tap ``(a, b)`` of its filters in row
    ``b * h + a``; ``lanes`` zeros after the last block.
    """
    cdef Py_ssize_t k_len = h * wd, c = 0, width, a, u
    while c < channels:
        width = 2 * lanes if c + 2 * lanes <= channels else min(lanes, channels - c)
        # Rows a, h + a, 2h + a, ... of the block are filter row a of its channels,
        # transposed: (width, wd) rows k_len apart into (wd, width) rows h * width apart.
        for a in range(h):
            transpose(w + c * k_len + a * wd, width, wd, k_len, packed + c * k_len + a * width,
                      h * width)
        c += width
    for u in range(lanes):
        packed[channels * k_len + u] = 0


def pack_filters(const floating[:, :, ::1] w, floating[::1] packed, Py_ssize_t lanes):
    """Fill ``packed`` with the bank ``w`` laid out by ``pack_bank``.

    Parameters
    ----------
    w : C-contiguous array, shape (channels, h, wd)
    packed : C-contiguous array of w's dtype, shape (channels * h * wd + lanes,)
    lanes : int
        Values per vector of the build that will read ``packed``, at least 1.
    """
    if lanes < 1:
        raise ValueError(f"lanes must be at least 1, got {lanes}")
    if w.shape[0] == 0 or w.shape[1] == 0 or w.shape[2] == 0:
        raise ValueError(f"w of shape {tuple(w.shape)[:3]} has no filter taps")
    if packed.shape[0] != w.shape[0] * w.shape[1] * w.shape[2] + lanes:
        raise ValueError(f"packed must have {w.shape[0] * w.shape[1] * w.shape[2] + lanes} "
                         f"elements, got {packed.shape[0]}")
    with nogil:
        pack_bank(&w[0, 0, 0], w.shape[0], w.shape[1], w.shape[2], lanes, &packed[0])


cdef void fmap_packed(Geometry g, const floating* x, const floating* w,
                      const floating* bias, floating* out, floating* scratch) noexcept nogil:
    """The packed-weight kernel of ``suite.TextCNN`` (``_packed.pxi``), packing per call.

    The task's filters are packed as ``suite.model.pack_filters`` lays a bank out (blocks
    of two vectors of channels, tap ``(a, b)`` in row ``b * h + a``) and each sentence is
    transposed, ``T[b, r] = x[r, b]``.  Output column j of every map is then the packed
    kernel over the ``w`` rows of ``T`` from row j: ``sum_{a, b} W[c, a, b] * T[j + b,
    i + a]`` for the m windows i, vectors along the channels, into an ``(m, channels)``
    block that the bias is added to on the way out.  Full-width filters (p == 1) take one
    such call per sentence; packing costs one pass over the filters per task.
    """
    cdef Py_ssize_t lanes = vector_bytes // sizeof(floating)
    cdef Py_ssize_t k_len = g.h * g.w, ldt = g.n + PACKED_PAD
    cdef Py_ssize_t ldo = round_up(g.channels, lanes)
    cdef Py_ssize_t s, c, b, i, j, r
    cdef floating* pk = <floating*>((<uintptr_t>scratch + 63) & ~(<uintptr_t>63))
    cdef floating* t = pk + round_up(g.channels * k_len + lanes, 16)
    cdef floating* block = t + g.d * ldt
    cdef floating* dst
    cdef const floating* xs
    pack_bank(w, g.channels, g.h, g.w, lanes, pk)
    for b in range(g.d):
        for r in range(g.n, ldt):
            t[b * ldt + r] = 0
    for s in range(g.batch):
        xs = x + s * g.n * g.d
        transpose(xs, g.n, g.d, g.d, t, ldt)
        for j in range(g.p):
            packed_bank(pk, g.channels, ldo, g.h, g.w, t + j * ldt, ldt, g.m, block, NULL)
            dst = out + s * g.out_batch_stride + j
            if g.p == 1:
                # The (m, channels) block is the sentence's maps transposed.
                transpose(block, g.m, g.channels, ldo, dst, g.m)
                for c in range(g.channels):
                    for i in range(g.m):
                        dst[c * g.m + i] += bias[c]
                continue
            for c in range(g.channels):
                for i in range(g.m):
                    dst[(c * g.m + i) * g.p] = block[i * ldo + c] + bias[c]


cdef void fmap_blas(Geometry g, const floating* x, const floating* w,
                    const floating* bias, floating* out, floating* scratch) noexcept nogil:
    """The correlation as a sum of shifted GEMMs, with no copy of the input.

    Output row i of channel c sums, over filter rows a and output columns j, the dot
    product of filter row ``w[c, a, :]`` with ``x[i + a, j:j + w]``.  For fixed (a, j)
    the rows ``x[a:a + m, j:j + w]`` are a matrix whose leading dimension is the
    sentence's row stride d, so ``out[:, :, j] += W[:, a, :] @ x[a:a + m, j:j + w].T``
    is one GEMM on a pointer into x.  With full-width filters (p == 1) the sentences of
    a batch are consecutive rows of one (batch * n, d) matrix: one GEMM per filter row
    covers the whole slice, and the h - 1 rows per sentence that straddle two sentences
    are computed and dropped.
    """
    cdef Py_ssize_t s, c, i, j, a, rows
    cdef floating* dst
    cdef floating* t
    cdef const floating* src
    cdef floating beta
    if g.p == 1:
        rows = g.batch * g.n - g.h + 1
        if g.batch == 1:
            # Seed the output with the bias and accumulate every GEMM into it.
            for c in range(g.channels):
                for i in range(g.m):
                    out[c * g.m + i] = bias[c]
            for a in range(g.h):
                gemm_nt(<int>g.channels, <int>rows, <int>g.d, w + a * g.d, <int>(g.h * g.d),
                        x + a * g.d, <int>g.d, 1, out, <int>g.m)
            return
        for a in range(g.h):
            beta = 0 if a == 0 else 1
            gemm_nt(<int>g.channels, <int>rows, <int>g.d, w + a * g.d, <int>(g.h * g.d),
                    x + a * g.d, <int>g.d, beta, scratch, <int>rows)
        for s in range(g.batch):
            for c in range(g.channels):
                src = scratch + c * rows + s * g.n
                dst = out + s * g.out_batch_stride + c * g.m
                for i in range(g.m):
                    dst[i] = src[i] + bias[c]
        return
    for s in range(g.batch):
        # scratch holds the p maps out[s, :, :, j] as (channels, m) blocks, j-major.
        for j in range(g.p):
            t = scratch + j * g.channels * g.m
            for a in range(g.h):
                beta = 0 if a == 0 else 1
                gemm_nt(<int>g.channels, <int>g.m, <int>g.w, w + a * g.w, <int>(g.h * g.w),
                        x + (s * g.n + a) * g.d + j, <int>g.d, beta, t, <int>g.m)
        for c in range(g.channels):
            dst = out + s * g.out_batch_stride + c * g.m * g.p
            for i in range(g.m):
                for j in range(g.p):
                    dst[i * g.p + j] = scratch[(j * g.channels + c) * g.m + i] + bias[c]


cdef Plan make_plan(Geometry g, int n_threads) noexcept nogil:
    """Cut a problem into (batch slice, channel block) tasks for ``n_threads`` threads.

    A batch too small to keep every thread busy is also cut along the channels, so a
    single sentence still uses every core.
    """
    cdef Plan plan
    plan.per_slice = slice_sentences(g)
    plan.n_slices = (g.batch + plan.per_slice - 1) // plan.per_slice
    plan.n_blocks = 1
    if plan.n_slices < n_threads:
        plan.n_blocks = min(g.channels, (n_threads + plan.n_slices - 1) // plan.n_slices)
    # Whole blocks of 4 channels, the tiles kernel's block height, where there are enough.
    plan.per_block = (g.channels + plan.n_blocks - 1) // plan.n_blocks
    if plan.per_block > 4:
        plan.per_block = (plan.per_block + 3) // 4 * 4
    plan.n_blocks = (g.channels + plan.per_block - 1) // plan.per_block
    plan.tasks = plan.n_slices * plan.n_blocks
    return plan


cdef Task plan_task(Plan plan, Geometry g, Py_ssize_t t) noexcept nogil:
    cdef Task task
    task.s0 = (t // plan.n_blocks) * plan.per_slice
    task.c0 = (t % plan.n_blocks) * plan.per_block
    task.g = g
    task.g.batch = max(0, min(g.batch, task.s0 + plan.per_slice) - task.s0)
    task.g.channels = max(0, min(g.channels, task.c0 + plan.per_block) - task.c0)
    return task


cdef int plan_threads(Plan plan, int n_threads) noexcept nogil:
    """The threads to start for ``plan``: never more than it has tasks."""
    return <int>max(1, min(<Py_ssize_t>n_threads, plan.tasks))


cdef void fmap_core(Core core, Geometry g, const floating* x, const floating* w,
                    const floating* bias, floating* out, floating* scratch) noexcept nogil:
    """Run ``core`` on one task; ``scratch`` holds ``core_scratch_size(core, g)`` elements."""
    if core == LOOPS:
        fmap_loops(g, x, w, bias, out)
    elif core == SEED:
        fmap_seed(g, x, w, bias, out)
    elif core == BLAS:
        fmap_blas(g, x, w, bias, out, scratch)
    elif core == PACKED:
        fmap_packed(g, x, w, bias, out, scratch)
    else:
        fmap_table(core, g, x, w, bias, out)


def feature_map(const floating[:, :, ::1] x, const floating[:, :, ::1] w,
                const floating[::1] bias, floating[:, :, :, ::1] out, Core core,
                int n_threads):
    """Fill ``out[s, c]`` with ``correlate2d(x[s], w[c], 'valid') + bias[c]``.

    Parameters
    ----------
    x, w, bias : C-contiguous arrays of one floating dtype
        Sentences ``(batch, n, d)``, filters ``(channels, h, w)``, biases ``(channels,)``.
    out : C-contiguous array, shape (batch, channels, n - h + 1, d - w + 1)
        Filled in place.
    core : Core
        The serial core each task runs.
    n_threads : int
        Threads asked for; the call starts at most one per task of ``make_plan``.

    Returns
    -------
    int
        The threads that ran at least one task.
    """
    cdef Geometry g = make_geometry(x.shape[0], x.shape[1], x.shape[2],
                                    w.shape[0], w.shape[1], w.shape[2])
    cdef Plan plan = make_plan(g, max(1, n_threads))
    cdef int threads = plan_threads(plan, n_threads)
    cdef Py_ssize_t size = core_scratch_size(core, plan_task(plan, g, 0).g)
    cdef Py_ssize_t t, used = 0
    cdef Task task
    cdef floating* scratch = <floating*>malloc(max(1, threads * size) * sizeof(floating))
    cdef char* ran = <char*>calloc(threads, 1)
    if scratch == NULL or ran == NULL:
        free(scratch)
        free(ran)
        raise MemoryError(f"feature_map needs {threads * size} floats of scratch")
    try:
        if threads == 1:
            with nogil:
                for t in range(plan.tasks):
                    task = plan_task(plan, g, t)
                    if task.g.channels > 0:
                        fmap_core(core, task.g, &x[task.s0, 0, 0], &w[task.c0, 0, 0],
                                  &bias[task.c0], &out[task.s0, task.c0, 0, 0], scratch)
            return 1
        for t in prange(plan.tasks, nogil=True, schedule="static", num_threads=threads):
            task = plan_task(plan, g, t)
            if task.g.channels > 0:
                ran[threadid()] = 1
                fmap_core(core, task.g, &x[task.s0, 0, 0], &w[task.c0, 0, 0],
                          &bias[task.c0], &out[task.s0, task.c0, 0, 0],
                          scratch + threadid() * size)
        for t in range(threads):
            used += ran[t]
        return used
    finally:
        free(scratch)
        free(ran)
