# Explicit vectors for the Cython kernels (part of _kernels.pxi).
#
# GCC vector extensions declared to Cython as the scalar type (``vf64``, ``vf32``): Cython
# sees ``double`` and ``float``, and the C compiler gives ``scalar * vector`` its meaning
# of a broadcast.  Their width follows the flags of the build: 16 bytes for the baseline,
# 32 with AVX2, 64 with AVX-512.  The kernels that use them are written once per dtype
# (Tempita templates), each with its own vector type.

cdef extern from *:
    """
    #if defined(__AVX512F__)
    #define SUITE_VECTOR_BYTES 64
    #elif defined(__AVX__)
    #define SUITE_VECTOR_BYTES 32
    #else
    #define SUITE_VECTOR_BYTES 16
    #endif
    /* aligned() below the vector's size: loads and stores at any element. */
    typedef double suite_vf64
        __attribute__((vector_size(SUITE_VECTOR_BYTES), aligned(sizeof(double))));
    typedef float suite_vf32
        __attribute__((vector_size(SUITE_VECTOR_BYTES), aligned(sizeof(float))));
    static const suite_vf64 suite_vzero_f64 = {0};
    static const suite_vf32 suite_vzero_f32 = {0};
    """
    int SUITE_VECTOR_BYTES
    ctypedef double vf64 "suite_vf64"
    ctypedef float vf32 "suite_vf32"
    const vf64 VZERO_F64 "suite_vzero_f64"
    const vf32 VZERO_F32 "suite_vzero_f32"
