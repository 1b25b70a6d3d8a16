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
    /* Lane indices of the two vector types, for GCC's __builtin_shuffle. */
    typedef long long suite_lanes_f64 __attribute__((vector_size(SUITE_VECTOR_BYTES)));
    typedef int suite_lanes_f32 __attribute__((vector_size(SUITE_VECTOR_BYTES)));
    static const suite_vf64 suite_vzero_f64 = {0};
    static const suite_vf32 suite_vzero_f32 = {0};
    /* Lane by lane x > m ? x : m, the semantics of the x86 max instructions (a NaN in x
       keeps m).  C has no ?: on vectors; elsewhere a compare and a blend. */
    #if defined(__AVX512F__)
    #include <immintrin.h>
    #define suite_vmax_f64(m, x) ((suite_vf64)_mm512_max_pd((__m512d)(x), (__m512d)(m)))
    #define suite_vmax_f32(m, x) ((suite_vf32)_mm512_max_ps((__m512)(x), (__m512)(m)))
    #elif defined(__AVX__)
    #include <immintrin.h>
    #define suite_vmax_f64(m, x) ((suite_vf64)_mm256_max_pd((__m256d)(x), (__m256d)(m)))
    #define suite_vmax_f32(m, x) ((suite_vf32)_mm256_max_ps((__m256)(x), (__m256)(m)))
    #elif defined(__SSE2__)
    #include <emmintrin.h>
    #define suite_vmax_f64(m, x) ((suite_vf64)_mm_max_pd((__m128d)(x), (__m128d)(m)))
    #define suite_vmax_f32(m, x) ((suite_vf32)_mm_max_ps((__m128)(x), (__m128)(m)))
    #else
    typedef long long suite_vm64 __attribute__((vector_size(SUITE_VECTOR_BYTES)));
    typedef int suite_vm32 __attribute__((vector_size(SUITE_VECTOR_BYTES)));
    static inline suite_vf64 suite_vmax_f64(suite_vf64 m, suite_vf64 x) {
        suite_vm64 gt = x > m;
        return (suite_vf64)((gt & (suite_vm64)x) | (~gt & (suite_vm64)m));
    }
    static inline suite_vf32 suite_vmax_f32(suite_vf32 m, suite_vf32 x) {
        suite_vm32 gt = x > m;
        return (suite_vf32)((gt & (suite_vm32)x) | (~gt & (suite_vm32)m));
    }
    #endif
    """
    int SUITE_VECTOR_BYTES
    ctypedef double vf64 "suite_vf64"
    ctypedef float vf32 "suite_vf32"
    const vf64 VZERO_F64 "suite_vzero_f64"
    const vf32 VZERO_F32 "suite_vzero_f32"
    # ``x if x > m else m`` in every lane (a NaN in x keeps m).
    vf64 vmax_f64 "suite_vmax_f64"(vf64 m, vf64 x) noexcept nogil
    vf32 vmax_f32 "suite_vmax_f32"(vf32 m, vf32 x) noexcept nogil
