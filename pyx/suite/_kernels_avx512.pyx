"""The kernels compiled with AVX-512F and AVX-512VL (see _kernels.pxi).

The explicit vectors of the direct and packed kernels are 64 bytes wide; what the
compiler vectorises (the tiles' reductions) stays at 256 bits
(``-mprefer-vector-width=256`` in setup.py), and so do the simd kernel's vectors.
Imported by suite._runtime only on a CPU (and operating system) that runs them: every
instruction of this module may use them, its import code included.
"""
include "_kernels.pxi"
