from cython cimport floating


cpdef enum Method:
    # The pooling methods, shared by suite._pool and the fused kernel of suite._conv_pool.
    MAX = 0
    AVG = 1
    KMAX = 2
    CHUNK_MAX = 3


cdef floating max_row(const floating* v, Py_ssize_t n) noexcept nogil

cdef floating avg_row(const floating* v, Py_ssize_t n) noexcept nogil

cdef void kmax_row(const floating* v, Py_ssize_t n, Py_ssize_t k, floating* dst,
                   Py_ssize_t* work) noexcept nogil

cdef void chunk_max_row(const floating* v, Py_ssize_t n, Py_ssize_t chunks,
                        floating* dst) noexcept nogil

cdef void pool_row(Method method, const floating* v, Py_ssize_t n, Py_ssize_t param,
                   floating* dst, Py_ssize_t* work) noexcept nogil
