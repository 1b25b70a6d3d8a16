"""The Cython kernels compiled with AVX-512F and AVX-512VL, 512-bit vectors preferred
(see _kernels.pxi).

Imported by suite._conv only on a CPU (and operating system) that runs them: every
instruction of this module may use them, its import code included.
"""
include "_kernels.pxi"
