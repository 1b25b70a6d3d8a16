# The tiles kernel's entry points as a table of function pointers.  The kernel is compiled
# twice (suite._tiles for the baseline instruction set, suite._tiles_avx2 with AVX2 and
# FMA); each module publishes its table in a capsule named TILES_CAPSULE, and suite._conv
# takes the table of the module the CPU can run, once, at import.

ctypedef void (*tiles_f64_t)(const double* w, Py_ssize_t channels, Py_ssize_t h,
                             Py_ssize_t wd, const double* x, Py_ssize_t d, Py_ssize_t m,
                             Py_ssize_t p, const double* bias, double* out,
                             Py_ssize_t ldo) noexcept nogil

ctypedef void (*tiles_f32_t)(const float* w, Py_ssize_t channels, Py_ssize_t h,
                             Py_ssize_t wd, const float* x, Py_ssize_t d, Py_ssize_t m,
                             Py_ssize_t p, const float* bias, float* out,
                             Py_ssize_t ldo) noexcept nogil

cdef struct TilesKernels:
    tiles_f64_t f64
    tiles_f32_t f32

cdef extern from *:
    """
    #define SUITE_TILES_CAPSULE "suite._tiles.TilesKernels"
    """
    const char* TILES_CAPSULE "SUITE_TILES_CAPSULE"
