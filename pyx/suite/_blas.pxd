# Row-major GEMM on top of scipy's BLAS: every compiled module cimports this one helper,
# so no BLAS library is linked by hand and float32/float64 share one call site.
from cython cimport floating
from scipy.linalg.cython_blas cimport dgemm, sgemm


cdef inline void gemm_nt(int m, int n, int k,
                         const floating* a, int lda,
                         const floating* b, int ldb,
                         floating beta, floating* c, int ldc) noexcept nogil:
    """Row-major ``C[m, n] = A[m, k] @ B[n, k].T + beta * C``.

    BLAS is column-major; a row-major matrix is its transpose there, so the row-major
    product ``A @ B.T`` is the column-major ``B.T.T @ A.T``: swap the operands and
    transpose the first.  Leading dimensions are row strides in elements; a shifted
    block of the sentence matrix is just a pointer with the sentence's row stride.
    """
    cdef char transb = b"T"
    cdef char notrans = b"N"
    cdef floating one = 1
    if floating is double:
        dgemm(&transb, &notrans, &n, &m, &k, &one, <double*>b, &ldb,
              <double*>a, &lda, &beta, c, &ldc)
    else:
        sgemm(&transb, &notrans, &n, &m, &k, &one, <float*>b, &ldb,
              <float*>a, &lda, &beta, c, &ldc)
