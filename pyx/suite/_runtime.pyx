"""What this process runs the kernels with: the CPU check, the build chosen, OpenMP's limit.

The kernels of ``_kernels.pxi`` (the Cython ``tiles``, ``direct`` and packed kernels and
the C ``simd`` kernel) are compiled three times, for the baseline instruction set, for
AVX2+FMA and for AVX-512F/VL.  This module asks the CPU once, at import, imports the
widest build it (and the operating system) runs, and keeps that build's table of kernels,
which the algorithm modules (``_conv``, ``_conv_pool``, ``_model``) take with
``kernel_table()``.  ``SUITE_NO_AVX512=1`` caps the choice at AVX2, ``SUITE_NO_AVX2=1`` at
the baseline.
"""
import importlib
import os

from cpython.pycapsule cimport PyCapsule_GetPointer

from suite._kernels_api cimport KERNELS_CAPSULE, Kernels

cdef extern from "_cpu.h":
    int suite_cpu_has_avx2_fma()
    int suite_cpu_has_avx512()

cdef extern from *:
    """
    #ifdef _OPENMP
    #include <omp.h>
    #define suite_omp_max_threads() omp_get_max_threads()
    #else
    #define suite_omp_max_threads() 1
    #endif
    """
    int suite_omp_max_threads() nogil


def _switched_off(name):
    return os.environ.get(name, "") not in ("", "0")


def _has_avx2_fma():
    """Whether the kernels may use AVX2+FMA: the CPU has both and ``SUITE_NO_AVX2`` is unset."""
    return bool(suite_cpu_has_avx2_fma()) and not _switched_off("SUITE_NO_AVX2")


def _has_avx512():
    """Whether the kernels may use AVX-512F/VL: as ``_has_avx2_fma``, and the CPU and the
    operating system run them and ``SUITE_NO_AVX512`` is unset."""
    return (_has_avx2_fma() and bool(suite_cpu_has_avx512())
            and not _switched_off("SUITE_NO_AVX512"))


def _kernels_module(avx2, avx512):
    """The build of the kernels this CPU runs, and its instruction set."""
    builds = [("suite._kernels_avx512", "avx512")] if avx512 else []
    builds += [("suite._kernels_avx2", "avx2+fma")] if avx2 else []
    for name, isa in builds:
        try:
            return importlib.import_module(name), isa
        except ImportError:  # not built (not x86-64): a narrower build serves
            pass
    return importlib.import_module("suite._kernels"), "baseline"


# The CPU is asked once, here, at import; the kernels only read the answer.
cdef Kernels _table
_module, ISA = _kernels_module(_has_avx2_fma(), _has_avx512())
_table = (<Kernels*>PyCapsule_GetPointer(_module.KERNELS, KERNELS_CAPSULE))[0]
#: Bytes per vector of the explicit-vector kernels in the build in use (16, 32 or 64).
VECTOR_BYTES = _module.VECTOR_BYTES
del _module


cdef const Kernels* kernel_table() noexcept nogil:
    return &_table


def omp_max_threads():
    """OpenMP's current thread limit: what ``n_threads=None`` means, as in scikit-learn.

    Returns
    -------
    int
        ``omp_get_max_threads()`` of the calling thread, which honours
        ``OMP_NUM_THREADS`` and ``threadpoolctl.threadpool_limits(user_api="openmp")``;
        1 in a build without OpenMP.
    """
    return suite_omp_max_threads()
