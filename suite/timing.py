"""Timing shared by the ``python -m suite run`` report and the benchmarks.

One place decides how a call is timed (a calibrated loop count, several samples, the
median), how competing implementations are compared (interleaved, so that a burst of
load on a shared machine hits every contender alike) and what the machine's GEMM peak is.
"""
from __future__ import annotations

import contextlib
import statistics
import time
from typing import Callable, Dict, Iterator, List, Mapping

import numpy as np

__all__ = ["single_threaded", "calibrate", "samples", "median_time", "interleaved",
           "gemm_gflops", "workload_calls", "sentence_sample"]


@contextlib.contextmanager
def single_threaded(blas: int = 1, openmp: int = 1) -> Iterator[None]:
    """Pin the BLAS and OpenMP thread pools for the duration of the block.

    Parameters
    ----------
    blas, openmp : int, optional
        Threads allowed to each pool; 1 by default, so that a kernel's time is not
        its BLAS library's threading.  Threads a kernel asks for through its own
        ``n_threads`` are not limited by the OpenMP setting.
    """
    from threadpoolctl import threadpool_limits
    with threadpool_limits(limits=blas, user_api="blas"), \
            threadpool_limits(limits=openmp, user_api="openmp"):
        yield


def calibrate(fn: Callable[[], object], min_time: float = 0.01) -> int:
    """Calls per sample so that one sample lasts at least ``min_time`` seconds.

    Parameters
    ----------
    fn : callable
        Called with no arguments.
    min_time : float, optional
        Seconds; short calls are repeated so timer resolution and loop overhead vanish.

    Returns
    -------
    int
        A power of two, at least 1.
    """
    if min_time < 0:
        raise ValueError(f"min_time must be non-negative, got {min_time}")
    number = 1
    while True:
        start = time.perf_counter()
        for _ in range(number):
            fn()
        elapsed = time.perf_counter() - start
        if elapsed >= min_time or number >= 1 << 20:
            return number
        number *= 2


def samples(fn: Callable[[], object], number: int, repeat: int) -> List[float]:
    """``repeat`` samples of the mean time of ``number`` calls, in seconds."""
    out = []
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(number):
            fn()
        out.append((time.perf_counter() - start) / number)
    return out


def median_time(fn: Callable[[], object], repeat: int = 5, min_time: float = 0.01) -> float:
    """Median seconds per call of ``fn`` over ``repeat`` calibrated samples."""
    if repeat < 1:
        raise ValueError(f"repeat must be at least 1, got {repeat}")
    number = calibrate(fn, min_time)
    return statistics.median(samples(fn, number, repeat))


def interleaved(fns: Mapping[str, Callable[[], object]], repeat: int = 5,
                min_time: float = 0.01) -> Dict[str, float]:
    """Median seconds per call of each function, sampled in turn.

    Each round takes one sample of every function, so a slow-down that lasts a while
    (another process on a shared core) spreads over all of them and their ratios stay
    fair.

    Parameters
    ----------
    fns : mapping of str to callable
        The contenders, called with no arguments.
    repeat : int, optional
        Rounds; each function's median is over this many samples.
    min_time : float, optional
        Minimum seconds per sample (see :func:`calibrate`).

    Returns
    -------
    dict
        Name to median seconds per call.
    """
    if repeat < 1:
        raise ValueError(f"repeat must be at least 1, got {repeat}")
    numbers = {name: calibrate(fn, min_time) for name, fn in fns.items()}
    times: Dict[str, List[float]] = {name: [] for name in fns}
    for _ in range(repeat):
        for name, fn in fns.items():
            times[name] += samples(fn, numbers[name], 1)
    return {name: statistics.median(ts) for name, ts in times.items()}


def gemm_gflops(dtype: str = "float64", size: int = 1024, repeat: int = 3) -> float:
    """The GFLOP/s of one ``size``-square matrix product on a single BLAS thread.

    This is the practical peak of one core for ``dtype`` (``dgemm`` or ``sgemm``
    through ``numpy.dot``): what a convolution lowered to GEMM can at best approach.
    """
    rng = np.random.default_rng(1234)
    a = rng.standard_normal((size, size)).astype(dtype)
    b = rng.standard_normal((size, size)).astype(dtype)
    c = np.empty((size, size), dtype)
    with single_threaded():
        seconds = median_time(lambda: np.dot(a, b, out=c), repeat=repeat, min_time=0.05)
    return 2.0 * size ** 3 / seconds / 1e9


def workload_calls(kernel: Callable, x: np.ndarray, banks, **kwargs) -> Callable[[], list]:
    """A function that makes a workload's calls: ``kernel(x, weights, bias)`` per bank."""
    def run():
        return [kernel(x, weights, bias, **kwargs) for weights, bias in banks]
    return run


def sentence_sample(x: np.ndarray, max_sentences: int = 8):
    """The first ``max_sentences`` sentences of ``x`` and the factor back to the whole batch.

    ``scipy.signal.correlate2d`` works one sentence and channel at a time, so its time is
    the per-sentence time times the batch; timing it on a few sentences and scaling
    keeps a batch-64 reference from taking seconds per sample.

    Returns
    -------
    sample : ndarray
        ``x[:max_sentences]``.
    scale : float
        ``len(x) / len(sample)``.
    """
    if max_sentences < 1:
        raise ValueError(f"max_sentences must be at least 1, got {max_sentences}")
    sample = x[:max_sentences]
    return sample, len(x) / len(sample)
