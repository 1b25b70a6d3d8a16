"""Type stubs for the Cython tiles kernel compiled with AVX2 and FMA (``pyx/suite/_tiles_avx2.pyx``).

The module has no Python-level functions: ``suite._conv`` takes its kernels from ``TILES``.
"""
from typing import Any

#: A capsule holding the module's table of kernels (``TilesKernels`` in ``_tiles_api.pxd``).
TILES: Any
