from cython cimport floating


cdef floating max_row(const floating* v, Py_ssize_t n) noexcept nogil

cdef floating avg_row(const floating* v, Py_ssize_t n) noexcept nogil

cdef void kmax_row(const floating* v, Py_ssize_t n, Py_ssize_t k, floating* dst,
                   Py_ssize_t* work) noexcept nogil

cdef void chunk_max_row(const floating* v, Py_ssize_t n, Py_ssize_t chunks,
                        floating* dst) noexcept nogil
