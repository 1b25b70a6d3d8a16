"""The one registry of kernel variants.

Every variant of every kernel is registered here once.  The public functions in
``suite._api`` dispatch through it, and the tests, the asv and pytest-benchmark
benchmarks and the ``python -m suite run`` report are all generated from it: a variant
added here is tested and benchmarked everywhere without being named again.
"""
from __future__ import annotations

import functools
import os
from dataclasses import dataclass, field
from typing import Callable, Dict, Optional, Tuple

import numpy as np

from suite import _conv, _conv_pool, _pool, _runtime
from suite._conv import Core
from suite._conv_pool import Activation
from suite._pool import Method

__all__ = ["Variant", "FEATURE_MAP", "POOL", "CONV_POOL", "ACTIVATIONS", "DTYPES",
           "variants", "default_threads", "effective_threads", "choose_feature_map",
           "choose_core"]

DTYPES = ("float64", "float32")

# A pick maps (x_shape, w_shape, n_threads, itemsize) to the core a call runs and its
# thread count; itemsize, the bytes of one value of the compute dtype, defaults to 4.
Pick = Callable[..., Tuple[Core, int]]


@dataclass(frozen=True)
class Variant:
    """One registered implementation of a kernel.

    Attributes
    ----------
    kernel : str
        ``"feature_map"``, ``"pool"`` or ``"conv_pool"``.
    name : str
        What ``variant=`` (or ``method=`` for pooling) selects.
    summary : str
        One line on how it computes (and, for feature maps, in which language).
    dtypes : tuple of str
        The dtypes it has compiled kernels for: every variant has both.
    threads : bool
        Whether it runs on several OpenMP threads when ``n_threads > 1``.
    pick : callable, optional
        Feature-map and fused variants: ``pick(x_shape, w_shape, n_threads, itemsize=4)``
        gives the ``Core`` a call runs and the threads it asks for, ``itemsize`` the bytes
        of one value of the compute dtype.
    run : callable
        The runner ``suite._api`` calls with normalised arrays.
    """

    kernel: str
    name: str
    summary: str
    dtypes: tuple = DTYPES
    threads: bool = False
    pick: Optional[Pick] = field(default=None, repr=False, compare=False)
    run: Optional[Callable] = field(default=None, repr=False, compare=False)


@functools.lru_cache(maxsize=None)
def default_threads() -> int:
    """The cores this process may run on (``n_threads=None`` means OpenMP's limit instead:
    see :func:`effective_threads`)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def effective_threads(n_threads: Optional[int] = None) -> int:
    """The threads a call with ``n_threads`` asks for, as scikit-learn counts them.

    Parameters
    ----------
    n_threads : int or None
        What the caller passed.

    Returns
    -------
    int
        ``n_threads`` itself, or for ``None`` OpenMP's current limit,
        ``omp_get_max_threads()``: it honours ``OMP_NUM_THREADS`` and
        ``threadpoolctl.threadpool_limits(user_api="openmp")`` and is read at every call.
        A kernel never starts more threads than it has tasks.

    Examples
    --------
    >>> from threadpoolctl import threadpool_limits
    >>> with threadpool_limits(1, user_api="openmp"):
    ...     effective_threads()
    1
    >>> effective_threads(3)
    3
    """
    return _runtime.omp_max_threads() if n_threads is None else n_threads


def _by_dtype(kernel):
    """The float64 and float32 specialisations of a compiled fused-type function.

    Picking one by the output's dtype skips Cython's run-time dispatch, which costs as
    much as the whole Python layer on a small sentence.
    """
    return {np.dtype(np.float64): kernel["double"], np.dtype(np.float32): kernel["float"]}


_FEATURE_MAP = _by_dtype(_conv.feature_map)
_CONV_POOL = _by_dtype(_conv_pool.conv_pool)
_POOL = _by_dtype(_pool.pool)


# -- choosing a core -----------------------------------------------------------------

#: Output positions along a row from which the direct kernel beats the tiles: two
#: vectors of float32 in the AVX-512 build.
DIRECT_MIN_POSITIONS = 24
#: Filters narrower than this are small: on rows shorter than ``DIRECT_MIN_POSITIONS``
#: they take ``direct`` from one vector of the dtype along the row in the AVX2 and AVX-512
#: builds, ``blas`` below it.
SMALL_FILTER_WIDTH = 16
#: Sentences, and windows per sentence (``n - h + 1``), from which the packed kernel
#: beats the tiles on full-width filters.
PACKED_MIN_BATCH = 2
PACKED_MIN_WINDOWS = 20


def choose_core(x_shape, w_shape, itemsize=4) -> Core:
    """The fastest compiled kernel for a shape, one thread: what ``parallel`` runs on every
    thread, and what ``auto`` runs on one unless the shifted GEMMs win.

    Parameters
    ----------
    x_shape : tuple of int
        ``(batch, n, d)``.
    w_shape : tuple of int
        ``(channels, h, w)``.
    itemsize : {4, 8}, optional
        Bytes of one value of the compute dtype: 4 for float32, 8 for float64.

    Returns
    -------
    Core
        For full-width filters, ``w == d``: ``Core.PACKED`` (Cython) in the AVX-512
        build for batches of at least ``PACKED_MIN_BATCH`` sentences with at least
        ``PACKED_MIN_WINDOWS`` windows each, else ``Core.TILES`` (Cython).  For narrower filters,
        ``Core.DIRECT`` (Cython) with at least ``DIRECT_MIN_POSITIONS`` output positions
        along a row, or, for filters narrower than ``SMALL_FILTER_WIDTH`` in the AVX2 and
        AVX-512 builds, at least one vector of the dtype (``suite._runtime.VECTOR_BYTES //
        itemsize``); else ``Core.SIMD`` (C).
        :func:`choose_feature_map` gives the measurements.
    """
    (batch, n, d), (h, w) = x_shape, w_shape[1:]
    if w == d:
        if (_runtime.VECTOR_BYTES >= 64 and batch >= PACKED_MIN_BATCH
                and n - h + 1 >= PACKED_MIN_WINDOWS):
            return Core.PACKED
        return Core.TILES
    positions = d - w + 1
    if positions >= DIRECT_MIN_POSITIONS or (
            w < SMALL_FILTER_WIDTH and _runtime.VECTOR_BYTES >= 32
            and positions >= _runtime.VECTOR_BYTES // itemsize):
        return Core.DIRECT
    return Core.SIMD


def choose_feature_map(x_shape, w_shape, n_threads, itemsize=4) -> str:
    """The variant ``variant="auto"`` runs for these shapes and thread count.

    Parameters
    ----------
    x_shape : tuple of int
        ``(batch, n, d)``.
    w_shape : tuple of int
        ``(channels, h, w)``.
    n_threads : int
        The threads the call may use.
    itemsize : {4, 8}, optional
        Bytes of one value of the compute dtype, as for :func:`choose_core`.

    Returns
    -------
    str
        ``"parallel"``, ``"tiles"``, ``"packed"``, ``"direct"``, ``"simd"`` or ``"blas"``.

    Notes
    -----
    The rules come from one-thread timings, the contenders alternated in rounds and the
    median of the per-round ratios taken, on an Intel Xeon with AVX-512 (``direct``) and
    an AMD EPYC with AVX2+FMA (the rest):

    * Several threads and at least 2**20 multiply-adds: ``parallel``, which runs the
      core :func:`choose_core` names on every thread.
    * Full-width filters (``w == d``, the text-CNN case) on one sentence or short ones:
      ``tiles``, the Cython kernel.  A filter and its window are one contiguous run, so
      each tile is one vectorised loop; it ran at 0.9-1.2x the speed of ``simd`` on
      ``utterance``, ``kim-mr`` and ``kim-mr-b64`` and on d = 20, 50, 64, in float64 and
      float32.  ``packed`` ran at 0.62-0.75x its speed on one sentence of 16 words and
      at 0.87-0.94x on 4 of them, whose 12 to 15 windows leave its tiles part empty.
    * Full-width filters on batches of at least ``PACKED_MIN_BATCH`` sentences with at
      least ``PACKED_MIN_WINDOWS`` windows each, in the AVX-512 build: ``packed``, the
      Cython kernel of ``TextCNN`` with the filters packed per call, vectors along the
      channels (all 64 bytes, where the tiles keep 32).  With AVX-512 it ran at 1.04-1.27x
      the tiles on 2 to 64 sentences of 24 to 64 words of d = 300 (banks of 100 filters
      of heights 3, 4, 5), 1.46-1.59x on d = 50, and on ``kim-mr-b64`` at 1.05x
      ``torch.nn.functional.conv1d`` in float32 and 1.78x in float64, where the tiles ran
      at 0.94x and 1.54x.  ``blas`` (OpenBLAS's SGEMM) was 1.07-1.12x faster than it in
      float32, and 0.91-0.96x its speed in float64.  Only in the AVX-512 build: with 16
      vector registers its tiles hold half the windows, and the AVX2 build
      (``SUITE_NO_AVX512=1`` on the same CPU) ran it at 0.81x the tiles on
      ``kim-mr-b64`` in float32 and 1.02x in float64.
    * Narrower filters with at least ``DIRECT_MIN_POSITIONS`` positions along a row
      (``d - w + 1``): ``direct``, which vectorises along those positions.  With AVX-512
      it ran at 2.0-6.8x ``simd`` and 1.4-3.5x ``blas`` on filters 16 and 32 wide of
      d = 64 and 128, and 1.7-2.3x both on 150 of d = 300; from 5 x 5 to 3 x 3 filters it
      is 4-7x ``blas``.  With 17 to 21 positions it ran at 0.64-1.35x the others on
      filters 16 and 32 wide, so for those it starts at two vectors of float32 in the
      AVX-512 build.
    * Small filters (narrower than ``SMALL_FILTER_WIDTH``) with fewer positions:
      ``direct`` from one vector of the dtype along the row.  On batches of images with
      16 filters of 3 x 3 to 15 x 15, from one vector (16 float32 or 8 float64
      positions with AVX-512, 8 or 4 with AVX2, ``SUITE_NO_AVX512=1`` on the same CPU)
      to 23 positions, it ran at 1.4-8.5x ``blas``; with fewer it ran at 0.30-0.94x.
      Not in the baseline build, whose 16-byte vectors ran ``direct`` at 0.58-0.93x
      ``blas`` on 7 x 7 and 15 x 15 filters with 8 to 16 positions (1.2-6.6x on
      smaller ones).
    * Narrower filters with fewer positions still: ``blas`` for filters narrower than
      ``SMALL_FILTER_WIDTH``, whose shifted GEMMs vectorise along the output and ran
      1.2-4x faster than ``simd``; ``simd``, the C kernel, for wider ones (the Cython
      tiles ran at 0.63-0.98x its speed on w = 299 of d = 300 and w = 48 of d = 64).
    """
    (batch, n, d), (channels, h, w) = x_shape, w_shape
    if n_threads > 1 and batch * channels * (n - h + 1) * (d - w + 1) * h * w >= 1 << 20:
        return "parallel"
    core = choose_core(x_shape, w_shape, itemsize)
    if core == Core.SIMD and w < SMALL_FILTER_WIDTH:
        return "blas"
    return core.name.lower()


def _serial(core: Core) -> Pick:
    def pick(x_shape, w_shape, n_threads, itemsize=4):
        return core, 1
    return pick


def _parallel(x_shape, w_shape, n_threads, itemsize=4):
    return choose_core(x_shape, w_shape, itemsize), n_threads


def _auto(x_shape, w_shape, n_threads, itemsize=4):
    return FEATURE_MAP[choose_feature_map(x_shape, w_shape, n_threads, itemsize)].pick(
        x_shape, w_shape, n_threads, itemsize)


# -- runners ---------------------------------------------------------------------------
# Feature-map runners take normalised arrays: x (batch, n, d), weights (channels, h, w)
# and bias (channels,), C-contiguous and of one floating dtype, and fill `out` in place.
# Pooling runners take a C-contiguous (rows, positions) array and return (rows, width).
# Each returns what the compiled kernel does (the threads a call ran on, or the array).

def _feature_map(name: str, summary: str, pick: Pick, threads: bool = False) -> Variant:
    def run(x, w, bias, out, n_threads):
        core, n = pick(x.shape, w.shape, n_threads, out.dtype.itemsize)
        return _FEATURE_MAP[out.dtype](x, w, bias, out, core, n)
    return Variant("feature_map", name, summary, threads=threads, pick=pick, run=run)


def _conv_pool(fm: Variant) -> Variant:
    pick = fm.pick

    def run(x, w, bias, out, activation, method, param, n_threads):
        core, n = pick(x.shape, w.shape, n_threads, out.dtype.itemsize)
        return _CONV_POOL[out.dtype](x, w, bias, out, core, ACTIVATIONS[activation],
                                     METHODS[method], param, n)
    return Variant("conv_pool", fm.name,
                   f"fused: {fm.name} feature map in per-thread tiles, activated and pooled "
                   "in cache", threads=fm.threads, pick=pick, run=run)


#: The scratch of the pooling methods other than k-max, which never touch it: one array
#: serves every call, from any thread.
_NO_WORK = np.empty(1, np.intp)


def _pool_method(method: Method, summary: str) -> Variant:
    kmax = method == Method.KMAX

    def run(flat, param, out=None):
        if out is None:
            out = np.empty((flat.shape[0], param or 1), flat.dtype)
        work = np.empty(flat.shape[1], np.intp) if kmax else _NO_WORK
        _POOL[flat.dtype](flat, out, method, work)
        return out
    return Variant("pool", method.name.lower(), summary, run=run)


def _registry(*entries):
    return {variant.name: variant for variant in entries}


FEATURE_MAP: Dict[str, Variant] = _registry(
    _feature_map("loops", "Cython: plain typed-memoryview loop nest, one accumulator",
                 _serial(Core.LOOPS)),
    _feature_map("seed", "Cython port of the production C kernel: pointer walk, two "
                 "accumulators for even w", _serial(Core.SEED)),
    _feature_map("tiles", "Cython: register-blocked 4x3 tiles over the windows in place, "
                 "vectorised by the compiler (AVX-512 or AVX2+FMA build when the CPU has it)",
                 _serial(Core.TILES)),
    _feature_map("simd", "C: the same 4x3 tiles with GCC vector extensions, through cdef "
                 "extern (AVX2+FMA clone when the CPU has it)", _serial(Core.SIMD)),
    _feature_map("direct", "Cython: direct convolution for small 2-D filters, vectorised "
                 "along the output positions, 4 channels x 3 vectors in registers "
                 "(AVX-512 or AVX2+FMA build when the CPU has it)", _serial(Core.DIRECT)),
    _feature_map("blas", "Cython: sum of shifted GEMMs through scipy.linalg.cython_blas, "
                 "no copy of the input", _serial(Core.BLAS)),
    _feature_map("packed", "Cython: the packed-weight kernel of TextCNN, the filters "
                 "packed per call and the sentence transposed, vectors along the channels "
                 "(AVX-512 or AVX2+FMA build when the CPU has it)", _serial(Core.PACKED)),
    _feature_map("parallel", "Cython: tiles or packed (full-width filters), direct or simd "
                 "(narrower; see choose_core) over (batch slice, channel block) tasks on OpenMP "
                 "threads", _parallel,
                 threads=True),
    _feature_map("auto", "picks one of the above by shape and threads", _auto, threads=True),
)

POOL: Dict[str, Variant] = _registry(
    _pool_method(Method.MAX, "max over all positions (max-over-time)"),
    _pool_method(Method.AVG, "mean over all positions"),
    _pool_method(Method.KMAX, "the k largest values in their original order"),
    _pool_method(Method.CHUNK_MAX, "max of each of `chunks` pieces (numpy.array_split)"),
)
METHODS: Dict[str, Method] = {name: Method[name.upper()] for name in POOL}
ACTIVATIONS: Dict[str, Activation] = {a.name.lower(): a for a in Activation}

CONV_POOL: Dict[str, Variant] = _registry(*map(_conv_pool, FEATURE_MAP.values()))


def variants() -> Dict[str, Dict[str, Variant]]:
    """The registered variants of each kernel.

    Returns
    -------
    dict
        ``{"feature_map": {...}, "pool": {...}, "conv_pool": {...}}``, each mapping a
        variant (or pooling method) name to its :class:`Variant`.

    Examples
    --------
    >>> import suite
    >>> sorted(suite.variants()["feature_map"])
    ['auto', 'blas', 'direct', 'loops', 'packed', 'parallel', 'seed', 'simd', 'tiles']
    """
    return {"feature_map": dict(FEATURE_MAP), "pool": dict(POOL),
            "conv_pool": dict(CONV_POOL)}
