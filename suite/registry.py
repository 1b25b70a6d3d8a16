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
from typing import Callable, Dict, Optional

import numpy as np

from suite import _conv, _fused, _pool

__all__ = ["Variant", "FEATURE_MAP", "POOL", "CONV_POOL", "ACTIVATIONS", "DTYPES",
           "variants", "default_threads", "choose_feature_map"]

DTYPES = ("float64", "float32")


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
        One line on how it computes.
    dtypes : tuple of str
        The dtypes it has compiled kernels for.
    threads : bool
        Whether it runs on several OpenMP threads when ``n_threads > 1``.
    """

    kernel: str
    name: str
    summary: str
    dtypes: tuple = DTYPES
    threads: bool = False
    run: Optional[Callable] = field(default=None, repr=False, compare=False)


@functools.lru_cache(maxsize=None)
def default_threads() -> int:
    """The cores this process may run on: what ``n_threads=None`` means."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


# -- feature map -----------------------------------------------------------------------
# Runners take normalised arrays: x (batch, n, d), weights (channels, h, w) and bias
# (channels,), C-contiguous and of one floating dtype, and fill `out` in place.

def _by_dtype(kernel):
    """The float64 and float32 specialisations of a compiled fused-type function.

    Picking one by the output's dtype skips Cython's run-time dispatch, which costs as
    much as the whole Python layer on a small sentence.
    """
    return {np.dtype(np.float64): kernel["double"], np.dtype(np.float32): kernel["float"]}


_CONV_POOL = _by_dtype(_fused.conv_pool)
_LOOPS = _by_dtype(_conv.feature_map_loops)
_SEED = _by_dtype(_conv.feature_map_seed)
_TILES = _by_dtype(_conv.feature_map_tiles)
_SIMD = _by_dtype(_conv.feature_map_simd)
_BLAS = _by_dtype(_conv.feature_map_blas)
_PARALLEL = _by_dtype(_conv.feature_map_parallel)


def _fmap_loops(x, w, bias, out, n_threads):
    _LOOPS[out.dtype](x, w, bias, out)


def _fmap_seed(x, w, bias, out, n_threads):
    _SEED[out.dtype](x, w, bias, out)


def _fmap_tiles(x, w, bias, out, n_threads):
    _TILES[out.dtype](x, w, bias, out)


def _fmap_simd(x, w, bias, out, n_threads):
    _SIMD[out.dtype](x, w, bias, out)


def _fmap_blas(x, w, bias, out, n_threads):
    size = _conv.blas_slice_scratch_size(*x.shape, *w.shape)
    _BLAS[out.dtype](x, w, bias, out, np.empty(size, out.dtype))


def _fmap_parallel(x, w, bias, out, n_threads):
    _PARALLEL[out.dtype](x, w, bias, out, n_threads)


def choose_feature_map(x_shape, w_shape, dtype, n_threads) -> str:
    """The variant ``variant="auto"`` runs for these shapes, dtype and thread count."""
    (batch, n, d), (channels, h, w) = x_shape, w_shape
    # The tiles vectorise along filter rows: full-width text-CNN filters, or rows of two
    # vectors and more.  Short rows (5x5 image filters) leave them mostly scalar, and the
    # shifted GEMMs, which vectorise along the output, are 1.2-4x faster there.
    if w != d and w < 16:
        return "blas"
    if n_threads > 1 and batch * channels * (n - h + 1) * (d - w + 1) * h * w >= 1 << 20:
        return "parallel"
    return "tiles"


def _fmap_auto(x, w, bias, out, n_threads):
    _AUTO_RUNNERS[choose_feature_map(x.shape, w.shape, out.dtype, n_threads)](
        x, w, bias, out, n_threads)


# -- pooling ---------------------------------------------------------------------------
# Runners take a C-contiguous (rows, positions) array and return (rows, width).

def _pool_max(flat, param):
    out = np.empty((flat.shape[0], 1), flat.dtype)
    _pool.pool_max(flat, out[:, 0])
    return out


def _pool_avg(flat, param):
    out = np.empty((flat.shape[0], 1), flat.dtype)
    _pool.pool_avg(flat, out[:, 0])
    return out


def _pool_kmax(flat, k):
    out = np.empty((flat.shape[0], k), flat.dtype)
    _pool.pool_kmax(flat, out, np.empty(k, np.intp))
    return out


def _pool_chunk_max(flat, chunks):
    out = np.empty((flat.shape[0], chunks), flat.dtype)
    _pool.pool_chunk_max(flat, out)
    return out


# -- fused convolution and pooling ---------------------------------------------------

ACTIVATIONS: Dict[str, int] = dict(_fused.ACTIVATIONS)
# The fused kernel runs one serial core per task; "parallel" is the tiles core on
# several threads, as for the feature map.
_CONV_CODES = dict(_fused.CONVS, parallel=_fused.CONVS["tiles"])


def _conv_pool_runner(conv_name):
    def run(x, w, bias, out, activation, method, param, n_threads):
        name = conv_name
        if name == "auto":
            name = choose_feature_map(x.shape, w.shape, out.dtype, n_threads)
        _CONV_POOL[out.dtype](x, w, bias, out, _CONV_CODES[name], ACTIVATIONS[activation],
                              _fused.METHODS[method], param,
                              n_threads if FEATURE_MAP[name].threads else 1)
    return run


def _registry(*entries):
    return {variant.name: variant for variant in entries}


FEATURE_MAP: Dict[str, Variant] = _registry(
    Variant("feature_map", "loops", "plain typed-memoryview loop nest, one accumulator",
            run=_fmap_loops),
    Variant("feature_map", "seed",
            "port of the production C kernel: pointer walk, two accumulators for even w",
            run=_fmap_seed),
    Variant("feature_map", "tiles",
            "Cython: register-blocked 4x3 tiles over the windows in place, vectorised by the "
            "compiler (AVX2+FMA build when the CPU has it)",
            run=_fmap_tiles),
    Variant("feature_map", "simd",
            "C: the same 4x3 tiles with GCC vector extensions, through cdef extern "
            "(AVX2+FMA clone when the CPU has it)",
            run=_fmap_simd),
    Variant("feature_map", "blas",
            "sum of shifted GEMMs through scipy.linalg.cython_blas, no copy of the input",
            run=_fmap_blas),
    Variant("feature_map", "parallel",
            "the tiles over (batch slice, channel block) tasks on OpenMP threads",
            threads=True, run=_fmap_parallel),
    Variant("feature_map", "auto", "picks one of the above by shape, dtype and threads",
            threads=True, run=_fmap_auto),
)

_AUTO_RUNNERS = {name: v.run for name, v in FEATURE_MAP.items() if name != "auto"}

POOL: Dict[str, Variant] = _registry(
    Variant("pool", "max", "max over all positions (max-over-time)", run=_pool_max),
    Variant("pool", "avg", "mean over all positions", run=_pool_avg),
    Variant("pool", "kmax", "the k largest values in their original order", run=_pool_kmax),
    Variant("pool", "chunk_max", "max of each of `chunks` pieces (numpy.array_split)",
            run=_pool_chunk_max),
)

CONV_POOL: Dict[str, Variant] = _registry(*(
    Variant("conv_pool", fm.name,
            f"fused: {fm.name} feature map in per-thread tiles, activated and pooled in cache",
            threads=fm.threads, run=_conv_pool_runner(fm.name))
    for fm in FEATURE_MAP.values()
))


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
    ['auto', 'blas', 'loops', 'parallel', 'seed', 'simd', 'tiles']
    """
    return {"feature_map": dict(FEATURE_MAP), "pool": dict(POOL),
            "conv_pool": dict(CONV_POOL)}
