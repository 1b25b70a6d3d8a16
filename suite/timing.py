"""Timing shared by the ``python -m suite run`` report and the benchmarks.

One place decides how a call is timed (a calibrated loop count, several samples, the
median), how competing implementations are compared (interleaved, so that a burst of
load on a shared machine hits every contender alike) and what the machine's GEMM peak is.
"""
from __future__ import annotations

import contextlib
import statistics
import time
from typing import Callable, Dict, Iterator, List, Mapping, Optional, Sequence, Tuple

import numpy as np

__all__ = ["single_threaded", "calibrate", "samples", "measure", "median_time", "interleaved",
           "speedup", "gemm_gflops", "workload_calls", "sentence_sample"]


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


def calibrate(fn: Callable[[], object], min_time: float = 0.01) -> Tuple[int, float]:
    """Calls per sample so that one sample lasts at least ``min_time`` seconds.

    Parameters
    ----------
    fn : callable
        Called with no arguments.
    min_time : float, optional
        Seconds; short calls are repeated so timer resolution and loop overhead vanish.

    Returns
    -------
    number : int
        A power of two, at least 1.
    seconds : float
        Seconds per call of the last trial, which ran ``number`` calls: a valid first
        sample, so a call that takes seconds is not run once more just to calibrate.
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
            return number, elapsed / number
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


def measure(fn: Callable[[], object], repeat: int = 5, min_time: float = 0.01,
            max_time: Optional[float] = None) -> List[float]:
    """Calibrated samples of seconds per call of ``fn`` (the first from calibration).

    Parameters
    ----------
    fn : callable
        Called with no arguments.
    repeat : int, optional
        Samples wanted.
    min_time : float, optional
        Minimum seconds per sample (see :func:`calibrate`).
    max_time : float, optional
        Stop early once sampling has taken this many seconds; there is always at
        least one sample.  Keeps a call that takes seconds from taking minutes.
    """
    if repeat < 1:
        raise ValueError(f"repeat must be at least 1, got {repeat}")
    start = time.perf_counter()
    number, first = calibrate(fn, min_time)
    out = [first]
    while len(out) < repeat and (max_time is None or time.perf_counter() - start < max_time):
        out += samples(fn, number, 1)
    return out


def median_time(fn: Callable[[], object], repeat: int = 5, min_time: float = 0.01,
                max_time: Optional[float] = None) -> float:
    """Median seconds per call of ``fn`` over the samples of :func:`measure`."""
    return statistics.median(measure(fn, repeat, min_time, max_time))


def interleaved(fns: Mapping[str, Callable[[], object]], repeat: int = 5,
                min_time: float = 0.01, max_time: Optional[float] = None,
                first: Optional[Mapping[str, float]] = None) -> Dict[str, List[float]]:
    """Samples of seconds per call of each function, taken in turn.

    Each round takes one sample of every function (the calibration of all of them is
    the first round), so a slow-down that lasts a while, such as another process on a
    shared core, spreads over all of them and their ratios stay fair.

    Parameters
    ----------
    fns : mapping of str to callable
        The contenders, called with no arguments.
    repeat : int, optional
        Rounds: samples per function.
    min_time : float, optional
        Minimum seconds per sample (see :func:`calibrate`).
    max_time : float, optional
        Start no new round once sampling has taken this many seconds; every
        function has the same number of samples, at least one.
    first : mapping of str to float, optional
        Seconds of one call already timed (a correctness check, say).  A call that took
        at least ``min_time`` needs no calibration: that time is its first sample.

    Returns
    -------
    dict
        Name to its samples; take the median for a figure.
    """
    if repeat < 1:
        raise ValueError(f"repeat must be at least 1, got {repeat}")
    start = time.perf_counter()
    numbers: Dict[str, int] = {}
    times: Dict[str, List[float]] = {}
    first = first or {}
    for name, fn in fns.items():
        if name in first and first[name] >= min_time:
            numbers[name], times[name] = 1, [first[name]]
        else:
            numbers[name], seconds = calibrate(fn, min_time)
            times[name] = [seconds]
    for _ in range(repeat - 1):
        if max_time is not None and time.perf_counter() - start >= max_time:
            break
        for name, fn in fns.items():
            times[name] += samples(fn, numbers[name], 1)
    return times


def speedup(baseline: Sequence[float], contender: Sequence[float]) -> float:
    """How many times faster ``contender`` ran than ``baseline``, round by round.

    The median over rounds of baseline time / contender time, the samples of each round
    taken in turn (:func:`interleaved`): a slow patch of the machine slows both sides of
    a round, so it cancels out of that round's ratio.  The asv wall-clock gate
    (``benchmarks/ratios.py``) reports the reciprocal of the same figure.
    """
    if len(baseline) != len(contender) or not baseline:
        raise ValueError(f"need as many samples of each, at least one; got {len(baseline)} "
                         f"and {len(contender)}")
    return statistics.median(b / c for b, c in zip(baseline, contender))


def gemm_gflops(dtype: str = "float64", size: int = 1024, repeat: int = 3) -> float:
    """The GFLOP/s of one ``size``-square matrix product on a single BLAS thread.

    This is the practical peak of one core for ``dtype`` (``dgemm`` or ``sgemm``
    through ``numpy.dot``): what a convolution lowered to GEMM can at best approach.
    The fastest of ``repeat`` samples is taken: a peak is what the core can do, and on
    a shared machine other work only ever slows a sample down.
    """
    rng = np.random.default_rng(1234)
    a = rng.standard_normal((size, size)).astype(dtype)
    b = rng.standard_normal((size, size)).astype(dtype)
    c = np.empty((size, size), dtype)
    with single_threaded():
        seconds = min(measure(lambda: np.dot(a, b, out=c), repeat=repeat, min_time=0.05))
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
