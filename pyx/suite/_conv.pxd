from cython cimport floating


cdef struct Geometry:
    # One call of a feature-map core: `batch` contiguous sentences of shape (n, d) and
    # `channels` contiguous filters of shape (h, w); each output map is (m, p) with
    # m = n - h + 1 and p = d - w + 1.  Consecutive sentences of the output are
    # `out_batch_stride` elements apart, so a core can fill a block of channels of a
    # larger output.
    Py_ssize_t batch, n, d
    Py_ssize_t channels, h, w
    Py_ssize_t m, p
    Py_ssize_t out_batch_stride


cdef struct Plan:
    # How a problem is cut into tasks: slices of `per_slice` sentences times blocks of
    # `per_block` channels; task t is slice t // n_blocks, block t % n_blocks.
    Py_ssize_t per_slice, n_slices, per_block, n_blocks, tasks


cdef struct Task:
    Py_ssize_t s0, c0   # first sentence and first channel of the task
    Geometry g          # the task's own slice and block (out_batch_stride unchanged)


cpdef enum Core:
    # The serial feature-map cores.  suite._conv runs them on their own or over OpenMP
    # tasks, suite._conv_pool runs them into per-thread tiles, and suite.registry names the
    # core of each variant: a new core is an entry here, a case in `fmap_core` and one
    # registration.
    LOOPS = 0
    SEED = 1
    TILES = 2
    SIMD = 3
    BLAS = 4
    DIRECT = 5
    PACKED = 6


cdef Geometry make_geometry(Py_ssize_t batch, Py_ssize_t n, Py_ssize_t d,
                            Py_ssize_t channels, Py_ssize_t h, Py_ssize_t w) noexcept nogil

cdef Plan make_plan(Geometry g, int n_threads) noexcept nogil

cdef Task plan_task(Plan plan, Geometry g, Py_ssize_t t) noexcept nogil

cdef int plan_threads(Plan plan, int n_threads) noexcept nogil

cdef Py_ssize_t core_scratch_size(Core core, Geometry g) noexcept nogil

cdef void fmap_core(Core core, Geometry g, const floating* x, const floating* w,
                    const floating* bias, floating* out, floating* scratch) noexcept nogil

cdef void packed_bank(const floating* packed, Py_ssize_t channels, Py_ssize_t ldo,
                      Py_ssize_t h, Py_ssize_t d, const floating* t, Py_ssize_t ldt,
                      Py_ssize_t windows, floating* out,
                      const floating* next_bank) noexcept nogil
