/* Register-blocked correlation of filters with the windows of a sentence.
 *
 * For one sentence x (n rows of d, row-major) and filters w (channels, h, wd), output
 * position q = i * p + j has the window whose segment a is x[i + a, j:j + wd].  Every
 * filter row and every window segment is contiguous, so a tile of 4 channels x 3
 * positions is 12 dot products along contiguous memory: 12 vector accumulators, 7 loads
 * for 12 fused multiply-adds, and no copy of the input.  BLAS cannot take these windows
 * as a matrix (they overlap, so their "leading dimension" would be smaller than their
 * length); this kernel reads them in place.
 *
 * The file is a template: _windows_impl.h is included once per element type.  On x86-64
 * each kernel is compiled twice, for AVX2+FMA and for the baseline instruction set, and
 * suite_windows_init (called once, at import) picks the one the CPU supports, so the build
 * stays portable.  This is the `simd` variant: C with GCC vector extensions, reached from
 * Cython through `cdef extern`; the `tiles` variant is the same blocking in Cython.
 */
#ifndef SUITE_WINDOWS_H
#define SUITE_WINDOWS_H

#if !defined(__GNUC__) && !defined(__clang__)
#error "the simd kernel uses GCC vector extensions: build textcnn-suite with GCC or Clang"
#endif

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#if defined(__x86_64__) && !defined(SUITE_NO_DISPATCH)
#define SUITE_DISPATCH 1
#define SUITE_AVX2 __attribute__((target("avx2,fma")))
#else
#define SUITE_DISPATCH 0
#endif

/* Whether the kernels take their AVX2+FMA clones: set once, at import, by
 * suite_windows_init (suite._conv asks _cpu.h), and only read by the kernels. */
static int suite_windows_avx2 = 0;

static void suite_windows_init(int avx2)
{
    suite_windows_avx2 = SUITE_DISPATCH && avx2;
}

#define SUITE_T double
#define SUITE_I int64_t
#define SUITE_LANES 4
#define SUITE_KERNEL suite_windows_f64
#include "_windows_impl.h"
#undef SUITE_T
#undef SUITE_I
#undef SUITE_LANES
#undef SUITE_KERNEL

#define SUITE_T float
#define SUITE_I int32_t
#define SUITE_LANES 8
#define SUITE_KERNEL suite_windows_f32
#include "_windows_impl.h"
#undef SUITE_T
#undef SUITE_I
#undef SUITE_LANES
#undef SUITE_KERNEL

#endif
