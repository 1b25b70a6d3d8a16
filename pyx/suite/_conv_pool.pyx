"""Fused convolution, activation and pooling: ``pool(act(feature_map(x, w, bias)))``.

The work is cut into the same (batch slice, channel block) tasks as the parallel feature
map; each task's feature maps go to a small per-thread tile that is activated and pooled
while it is still in cache, so the feature maps of the whole batch never exist at once.
The tiles are plain C memory owned by the call: no Python objects on the way.

On the ``DIRECT`` core, max pooling and average pooling of the identity or the ReLU
never hold a whole map: the kernel table's ``direct_pool`` folds each output row into
vector accumulators while it is in L1 (``_direct_pool.pxi``), so pooling a map costs a
small fraction of computing it.  A map whose max it cannot vouch for (a NaN, or a zero
max, whose sign the scalar path decides) is computed again and pooled exactly, so
every result has the bits of the two-pass path.
"""
from cython cimport floating
from cython.parallel cimport prange, threadid
from libc.stdint cimport uintptr_t
from libc.stdlib cimport calloc, free, malloc

from suite._conv cimport (DIRECT, Core, Geometry, Plan, Task, core_scratch_size, fmap_core,
                          make_geometry, make_plan, plan_task, plan_threads)
from suite._kernels_api cimport (POOL_ROW_PAD, POOLED_MAX, POOLED_RELU_SUM, POOLED_SUM,
                                 Kernels, Pooled)
from suite._pool cimport AVG, CHUNK_MAX, KMAX, MAX, Method, chunk_max_row, max_row, pool_row
from suite._runtime cimport kernel_table

# The table of the build suite._runtime chose, copied once, at import.
cdef Kernels kernels = kernel_table()[0]

cdef void activate_pool_row(floating* v, Py_ssize_t n, Activation activation,
                            Method method, Py_ssize_t param, floating* dst,
                            Py_ssize_t* work) noexcept nogil:
    cdef Py_ssize_t i
    # Every activation is non-decreasing, so the max of the activated values is the
    # activation of the max: max pooling activates one value per window, not n.
    if method == MAX:
        dst[0] = activate(max_row(v, n), activation)
    elif method == CHUNK_MAX:
        chunk_max_row(v, n, param, dst)
        for i in range(param):
            dst[i] = activate(dst[i], activation)
    else:
        if activation != IDENTITY:
            # The whole map, in the build's vector loops (_activate.pxi).
            if floating is double:
                kernels.activate_f64(v, n, activation)
            else:
                kernels.activate_f32(v, n, activation)
        pool_row(method, v, n, param, dst, work)


cdef enum:
    # Positions a row from which pool_rows max-pools float32 maps.
    ROWS_MAX_F32 = 48


cdef inline bint pools_in_rows(Core core, Geometry g, Activation activation,
                               Method method, size_t itemsize) noexcept nogil:
    """Whether ``direct_pool`` pools these maps as they are computed (``pool_rows``).

    Not for rows shorter than ``POOL_ROW_PAD`` positions: each row of scratch is folded a
    whole number of vectors, so short rows are mostly padding (full-width filters, one
    position a row, took 1.4x ``feature_map``'s time fused, 1.0x in two passes).  Max
    pooling of float32 (``itemsize`` 4) from ``ROWS_MAX_F32`` positions: on batches of
    images with 3 x 3 and 5 x 5 filters, the two passes ran at 0.99-1.14x the speed of
    the rows with 16 to 46 positions a row (AVX-512 and AVX2), the rows at 0.98-1.25x
    theirs with 62; float64 and average pooling ran about as fast or faster in rows.
    """
    if core != DIRECT or g.p < POOL_ROW_PAD:
        return False
    if method == MAX:
        return itemsize == 8 or g.p >= ROWS_MAX_F32
    return method == AVG and (activation == IDENTITY or activation == RELU)


cdef inline Py_ssize_t rows_scratch_size(Geometry g) noexcept nogil:
    # direct_pool's rows, then one map for the exact path.
    return 4 * (g.p + POOL_ROW_PAD) + g.m * g.p


cdef void pool_rows(Geometry g, const floating* x, const floating* w, const floating* bias,
                    Activation activation, Method method, floating* dst, Py_ssize_t ld,
                    floating* scratch) noexcept nogil:
    """``dst[s * ld + c]``: the pooled, activated map of sentence s and channel c of a task.

    ``scratch`` holds ``rows_scratch_size(g)`` elements.  Max pooling activates the max
    (every activation is non-decreasing); a NaN or zero max goes to the exact path.
    """
    cdef Py_ssize_t s, c, positions = g.m * g.p
    cdef floating* fmap = scratch + 4 * (g.p + POOL_ROW_PAD)
    cdef floating* pooled
    cdef const floating* xs
    cdef floating v
    cdef Pooled how = (POOLED_MAX if method == MAX else
                       POOLED_RELU_SUM if activation == RELU else POOLED_SUM)
    for s in range(g.batch):
        xs = x + s * g.n * g.d
        pooled = dst + s * ld
        if floating is double:
            kernels.direct_pool_f64(w, g.channels, g.h, g.w, xs, g.d, g.m, g.p, bias, how,
                                    scratch, pooled)
        else:
            kernels.direct_pool_f32(w, g.channels, g.h, g.w, xs, g.d, g.m, g.p, bias, how,
                                    scratch, pooled)
        for c in range(g.channels):
            v = pooled[c]
            if method == AVG:
                pooled[c] = v / positions
                continue
            if v != v or v == 0:
                # The same map again, alone (its outputs have the same bits in a block of
                # one channel), for the scalar path: the first NaN, or the zero's sign.
                if floating is double:
                    kernels.direct_f64(w + c * g.h * g.w, 1, g.h, g.w, xs, g.d, g.m, g.p,
                                       bias + c, fmap, positions)
                else:
                    kernels.direct_f32(w + c * g.h * g.w, 1, g.h, g.w, xs, g.d, g.m, g.p,
                                       bias + c, fmap, positions)
                v = max_row(fmap, positions)
            pooled[c] = activate(v, activation)


def conv_pool(const floating[:, :, ::1] x, const floating[:, :, ::1] w,
              const floating[::1] bias, floating[:, ::1] out, Core core,
              Activation activation, Method method, Py_ssize_t param, int n_threads):
    """Fill ``out[s * channels + c]`` with the pooled, activated map of ``x[s]`` and ``w[c]``.

    ``out`` has one row per (sentence, channel) and 1, k or ``chunks`` columns.  Each
    thread gets a tile for one task's feature maps (plus GEMM scratch for the ``BLAS``
    core, and a map's positions for k-max pooling), or where ``pool_rows`` pools the maps
    as they are computed, a few rows and one map; all allocated here in one block.  At
    most one thread per task is started; returns the threads that ran at least one task.
    """
    cdef Geometry g = make_geometry(x.shape[0], x.shape[1], x.shape[2],
                                    w.shape[0], w.shape[1], w.shape[2])
    cdef Plan plan = make_plan(g, max(1, n_threads))
    cdef int threads = plan_threads(plan, n_threads)
    cdef Geometry first = plan_task(plan, g, 0).g
    cdef Py_ssize_t positions = g.m * g.p
    cdef bint in_rows = pools_in_rows(core, g, activation, method, sizeof(floating))
    cdef Py_ssize_t tile_size = 0 if in_rows else first.batch * first.channels * positions
    # Each thread's scratch starts on a 64-byte boundary: the vector loops of the kernels
    # and of pooling start at one, so where malloc puts the scratch would otherwise
    # change the work of a call.
    cdef Py_ssize_t per_thread = (rows_scratch_size(first) if in_rows else
                                  tile_size + core_scratch_size(core, first)) // 16 * 16 + 16
    cdef Py_ssize_t t, s, c, tid, used = 0
    cdef Task task
    cdef floating* tile_t
    cdef void* raw = malloc(threads * per_thread * sizeof(floating) + 64)
    cdef floating* buffers = <floating*>((<uintptr_t>raw + 63) & ~(<uintptr_t>63))
    # k-max pooling's scratch: one map's positions (kmax_row).
    cdef Py_ssize_t work_size = positions if method == KMAX else 1
    cdef Py_ssize_t* work = <Py_ssize_t*>malloc(threads * work_size * sizeof(Py_ssize_t))
    cdef char* ran = <char*>calloc(threads, 1)
    if raw == NULL or work == NULL or ran == NULL:
        free(raw)
        free(work)
        free(ran)
        raise MemoryError(f"conv_pool needs {threads * per_thread} floats of scratch")
    try:
        for t in prange(plan.tasks, nogil=True, schedule="static", num_threads=threads):
            task = plan_task(plan, g, t)
            if task.g.channels == 0:
                continue
            tid = threadid()
            ran[tid] = 1
            tile_t = buffers + tid * per_thread
            if in_rows:
                pool_rows(task.g, &x[task.s0, 0, 0], &w[task.c0, 0, 0], &bias[task.c0],
                          activation, method, &out[task.s0 * g.channels + task.c0, 0],
                          g.channels, tile_t)
                continue
            task.g.out_batch_stride = task.g.channels * positions
            fmap_core(core, task.g, &x[task.s0, 0, 0], &w[task.c0, 0, 0], &bias[task.c0],
                      tile_t, tile_t + tile_size)
            for s in range(task.g.batch):
                for c in range(task.g.channels):
                    activate_pool_row(tile_t + (s * task.g.channels + c) * positions,
                                      positions, activation, method, param,
                                      &out[(task.s0 + s) * g.channels + task.c0 + c, 0],
                                      work + tid * work_size)
        for t in range(threads):
            used += ran[t]
        return used
    finally:
        free(raw)
        free(work)
        free(ran)
