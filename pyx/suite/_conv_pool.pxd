from cython cimport floating
from libc.math cimport expm1, expm1f, tanh, tanhf


cpdef enum Activation:
    # The activations of the fused kernels and of suite._model, by code.
    IDENTITY = 0
    RELU = 1
    SELU = 2
    TANH = 3


cdef inline floating activate(floating v, Activation activation) noexcept nogil:
    # Written so that NaN goes through unchanged, as in the NumPy reference.  Every
    # activation is non-decreasing: the max of activated values is the activation of the
    # max, which is what lets a max-pooling kernel activate one value per map.
    # SELU's lambda and alpha are those of suite.reference.
    if activation == RELU:
        return 0 if v <= 0 else v
    if activation == SELU:
        if v > 0:
            return <floating>1.0507009873554805 * v
        if floating is float:
            return <floating>(1.0507009873554805 * 1.6732632423543772) * expm1f(v)
        return 1.0507009873554805 * 1.6732632423543772 * expm1(v)
    if activation == TANH:
        if floating is float:
            return tanhf(v)
        return tanh(v)
    return v
