"""Type stubs for the run-time choices of the kernels (``pyx/suite/_runtime.pyx``)."""

#: The build of the kernels in use: ``"avx512"``, ``"avx2+fma"`` or ``"baseline"``.
ISA: str
#: The width of the explicit-vector kernels' vectors in that build, in bytes: 64, 32, 16.
VECTOR_BYTES: int

def omp_max_threads() -> int: ...
