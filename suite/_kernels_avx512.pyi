"""Type stubs for the kernels compiled with AVX-512F and AVX-512VL
(``pyx/suite/_kernels_avx512.pyx``).

The module has no Python-level functions: ``suite._runtime`` takes its kernels from
``KERNELS``.
"""
from typing import Any

#: A capsule holding the module's table of kernels (``Kernels`` in ``_kernels_api.pxd``).
KERNELS: Any
#: The width of the explicit-vector kernels' vectors in this build, in bytes.
VECTOR_BYTES: int
#: Whether its activations call glibc's libmvec vector tanh and expm1 (_activate.pxi).
LIBMVEC: bool
