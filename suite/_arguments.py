"""The checks of the integer arguments every public function shares.

``n_threads``, ``k`` and ``chunks`` are checked here, for every variant and the classifier
alike, so that one argument means the same wherever it is passed: a Python or NumPy
integer (never a bool, a float, a string or an array, not even a 0-d one), with a
``TypeError`` or ``ValueError`` that names the argument.
"""
from __future__ import annotations

from typing import Optional

import numpy as np

from suite.registry import effective_threads

__all__ = ["integer", "threads", "MAX_THREADS"]

#: What the compiled kernels take for a thread count (a C ``int``).  Larger requests are
#: clamped to it: a kernel never starts more threads than it has tasks anyway.
MAX_THREADS = 2 ** 31 - 1


def integer(name: str, value) -> int:
    """``value`` as a Python int, if it is a Python or NumPy integer.

    Parameters
    ----------
    name : str
        The argument's name, for the error message.
    value : object
        What the caller passed.

    Returns
    -------
    int

    Raises
    ------
    TypeError
        For anything else: bools (``True`` is not 1 here), floats (even ``2.0``),
        strings, arrays of any shape, ``None``.

    Examples
    --------
    >>> integer("k", np.int64(3))
    3
    >>> integer("k", 2.0)
    Traceback (most recent call last):
    ...
    TypeError: k must be an integer, got float 2.0
    """
    if type(value) is int:     # the common case, first: this runs on every call
        return value
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__} {value!r}")
    return int(value)


def threads(n_threads: Optional[int]) -> int:
    """The thread count a call runs with: ``n_threads``, or OpenMP's limit for ``None``.

    Parameters
    ----------
    n_threads : int or None
        What the caller passed: a positive integer (any size: values above
        :data:`MAX_THREADS` are clamped to it) or ``None``.

    Returns
    -------
    int
        Between 1 and :data:`MAX_THREADS`.

    Raises
    ------
    TypeError
        If ``n_threads`` is not an integer (see :func:`integer`).
    ValueError
        If it is below 1.
    """
    if n_threads is None:
        return effective_threads()
    n = integer("n_threads", n_threads)
    if n < 1:
        raise ValueError(f"n_threads must be at least 1, got {n}")
    return min(n, MAX_THREADS)
