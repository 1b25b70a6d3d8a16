/* What the CPU can run, asked once when suite._runtime is imported (never from a kernel, so
 * no OpenMP thread ever writes a shared flag).  GCC's and Clang's answers for AVX-512
 * include the operating system's: it must save the 512-bit registers (XCR0). */
#ifndef SUITE_CPU_H
#define SUITE_CPU_H

#if (defined(__GNUC__) || defined(__clang__)) && defined(__x86_64__)
static int suite_cpu_has_avx2_fma(void)
{
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}

static int suite_cpu_has_avx512(void)
{
    __builtin_cpu_init();
    return suite_cpu_has_avx2_fma() && __builtin_cpu_supports("avx512f")
        && __builtin_cpu_supports("avx512vl");
}
#else
static int suite_cpu_has_avx2_fma(void) { return 0; }
static int suite_cpu_has_avx512(void) { return 0; }
#endif

#endif
