"""The kernels compiled with AVX2 and FMA (see _kernels.pxi).

Imported by suite._runtime only on a CPU that has both: every instruction of this module
may use them, its import code included.
"""
include "_kernels.pxi"
