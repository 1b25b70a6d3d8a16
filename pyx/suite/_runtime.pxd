from suite._kernels_api cimport Kernels


# The kernels of the build chosen at import (``suite._runtime.ISA``).
cdef const Kernels* kernel_table() noexcept nogil
