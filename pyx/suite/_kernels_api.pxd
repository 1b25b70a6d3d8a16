# The kernels compiled once per instruction set, as a table of function pointers.  The
# same source (_kernels.pxi) is built three times: suite._kernels for the baseline,
# suite._kernels_avx2 with AVX2 and FMA, suite._kernels_avx512 with AVX-512F/VL.  Each
# module publishes its table in a capsule named KERNELS_CAPSULE, and suite._runtime takes
# the table of the build the CPU runs, once, at import: the one dispatch of every kernel.

# tiles(w, channels, h, wd, x, d, m, p, bias, out, ldo), and simd(...) and direct(...) of
# the same arguments: out[c * ldo + i * p + j] = bias[c] + correlate2d(x, w[c])[i, j].
ctypedef void (*kernel_f64_t)(const double* w, Py_ssize_t channels, Py_ssize_t h,
                              Py_ssize_t wd, const double* x, Py_ssize_t d, Py_ssize_t m,
                              Py_ssize_t p, const double* bias, double* out,
                              Py_ssize_t ldo) noexcept nogil

ctypedef void (*kernel_f32_t)(const float* w, Py_ssize_t channels, Py_ssize_t h,
                              Py_ssize_t wd, const float* x, Py_ssize_t d, Py_ssize_t m,
                              Py_ssize_t p, const float* bias, float* out,
                              Py_ssize_t ldo) noexcept nogil

# packed(p, channels, ldo, h, d, t, ldt, windows, out, next_bank): full-width filters
# packed beforehand over a transposed sentence, out[q * ldo + c] (see _packed.pxi).
ctypedef void (*packed_f64_t)(const double* p, Py_ssize_t channels, Py_ssize_t ldo,
                              Py_ssize_t h, Py_ssize_t d, const double* t, Py_ssize_t ldt,
                              Py_ssize_t windows, double* out,
                              const double* next_bank) noexcept nogil

ctypedef void (*packed_f32_t)(const float* p, Py_ssize_t channels, Py_ssize_t ldo,
                              Py_ssize_t h, Py_ssize_t d, const float* t, Py_ssize_t ldt,
                              Py_ssize_t windows, float* out,
                              const float* next_bank) noexcept nogil

# max(v, n, result) and sum(v, n): the reductions of suite._pool (see _reduce.pxi).  max
# returns False, result unset, where suite._pool's exact scalar path must decide.
ctypedef bint (*max_f64_t)(const double* v, Py_ssize_t n, double* result) noexcept nogil
ctypedef bint (*max_f32_t)(const float* v, Py_ssize_t n, float* result) noexcept nogil
ctypedef double (*sum_f64_t)(const double* v, Py_ssize_t n) noexcept nogil
ctypedef float (*sum_f32_t)(const float* v, Py_ssize_t n) noexcept nogil

# activate(v, n, activation): v[i] = act(v[i]) in place, activation a code of
# suite._conv_pool.Activation (see _activate.pxi).
ctypedef void (*activate_f64_t)(double* v, Py_ssize_t n, int activation) noexcept nogil
ctypedef void (*activate_f32_t)(float* v, Py_ssize_t n, int activation) noexcept nogil

# transpose(src, rows, cols, lds, dst, ldd): dst[c * ldd + r] = src[r * lds + c] for
# r < rows, c < cols, in vector registers (see _transpose.pxi).
ctypedef void (*transpose_f64_t)(const double* src, Py_ssize_t rows, Py_ssize_t cols,
                                 Py_ssize_t lds, double* dst, Py_ssize_t ldd) noexcept nogil
ctypedef void (*transpose_f32_t)(const float* src, Py_ssize_t rows, Py_ssize_t cols,
                                 Py_ssize_t lds, float* dst, Py_ssize_t ldd) noexcept nogil

# What direct_pool(w, channels, h, wd, x, d, m, p, bias, how, rows, dst) reduces each map
# of direct(...) to, into dst[c]: its max (NaN when the map's sum is NaN), its sum, or the
# sum of its ReLU (see _direct_pool.pxi).  rows: 4 * (p + POOL_ROW_PAD) elements.
cdef enum Pooled:
    POOLED_MAX = 0
    POOLED_SUM = 1
    POOLED_RELU_SUM = 2

ctypedef void (*direct_pool_f64_t)(const double* w, Py_ssize_t channels, Py_ssize_t h,
                                   Py_ssize_t wd, const double* x, Py_ssize_t d,
                                   Py_ssize_t m, Py_ssize_t p, const double* bias,
                                   Pooled how, double* rows, double* dst) noexcept nogil

ctypedef void (*direct_pool_f32_t)(const float* w, Py_ssize_t channels, Py_ssize_t h,
                                   Py_ssize_t wd, const float* x, Py_ssize_t d,
                                   Py_ssize_t m, Py_ssize_t p, const float* bias,
                                   Pooled how, float* rows, float* dst) noexcept nogil

cdef enum:
    # Spare columns the transposed sentence of ``packed`` needs past its last window.
    PACKED_PAD = 12
    # Spare columns per row of direct_pool's scratch: the lanes of the widest vector.
    POOL_ROW_PAD = 16

cdef struct Kernels:
    kernel_f64_t tiles_f64
    kernel_f32_t tiles_f32
    kernel_f64_t simd_f64
    kernel_f32_t simd_f32
    kernel_f64_t direct_f64
    kernel_f32_t direct_f32
    packed_f64_t packed_f64
    packed_f32_t packed_f32
    max_f64_t max_f64
    max_f32_t max_f32
    sum_f64_t sum_f64
    sum_f32_t sum_f32
    direct_pool_f64_t direct_pool_f64
    direct_pool_f32_t direct_pool_f32
    activate_f64_t activate_f64
    activate_f32_t activate_f32
    transpose_f64_t transpose_f64
    transpose_f32_t transpose_f32

cdef extern from *:
    """
    #define SUITE_KERNELS_CAPSULE "suite._kernels.Kernels"
    """
    const char* KERNELS_CAPSULE "SUITE_KERNELS_CAPSULE"
