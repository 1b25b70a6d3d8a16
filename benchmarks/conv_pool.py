"""Fused convolution + activation + pooling, and its peak memory against separate steps."""
import tracemalloc

import suite
from suite.registry import CONV_POOL
from suite.workloads import MEMORY_WORKLOADS

from ._common import DTYPES, THREADED_WORKLOADS, WORKLOAD_NAMES, OnWorkload, Pinned

THREADED = [name for name, v in CONV_POOL.items() if v.threads]
# The layer of Kim 2014: ReLU, then max-over-time pooling.
LAYER = {"activation": "relu", "method": "max"}


class ConvPool(OnWorkload):
    """``suite.conv_pool`` on one thread, one call per filter bank."""

    params = (list(CONV_POOL), WORKLOAD_NAMES, list(DTYPES))
    param_names = ["variant", "workload", "dtype"]


    def time_conv_pool(self, variant, workload, dtype):
        for weights, bias in self.banks:
            suite.conv_pool(self.x, weights, bias, variant=variant, n_threads=1, **LAYER)


class ConvPoolThreads(OnWorkload):
    """The threaded fused variants on two OpenMP threads (BLAS stays on one)."""

    params = (THREADED, THREADED_WORKLOADS, list(DTYPES))
    param_names = ["variant", "workload", "dtype"]


    def time_conv_pool_2threads(self, variant, workload, dtype):
        for weights, bias in self.banks:
            suite.conv_pool(self.x, weights, bias, variant=variant, n_threads=2, **LAYER)


class _Layer(Pinned):
    """A text-CNN layer two ways: feature maps then pooling, and fused.

    Both run ``variant="auto"`` on one thread; the unfused layer holds the maps of
    every bank at once, as a model does before concatenating the pooled features.
    """

    params = (list(MEMORY_WORKLOADS), list(DTYPES))
    param_names = ["workload", "dtype"]

    def setup(self, workload, dtype):
        super().setup()
        self.x, self.banks = MEMORY_WORKLOADS[workload].inputs(dtype)
        self.activate = suite.reference.activate  # imported here, not while measured

    def unfused(self):
        maps = [suite.feature_map(self.x, weights, bias, n_threads=1)
                for weights, bias in self.banks]
        return [suite.pool(self.activate(m, LAYER["activation"]), LAYER["method"])
                for m in maps]

    def fused(self):
        return [suite.conv_pool(self.x, weights, bias, n_threads=1, **LAYER)
                for weights, bias in self.banks]


class PeakMemory(_Layer):
    """Peak resident memory of the process running each layer."""

    def peakmem_feature_map_then_pool(self, workload, dtype):
        self.unfused()

    def peakmem_conv_pool(self, workload, dtype):
        self.fused()


def _allocated_peak(fn):
    """Peak bytes allocated while ``fn()`` runs, above what was allocated before.

    NumPy reports its array buffers to ``tracemalloc``, so this is the memory a call
    needs on top of its inputs: the part of ``peakmem_*`` that the interpreter, the
    libraries and the inputs do not drown.
    """
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        fn()
        return tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()


class AllocatedMemory(_Layer):
    """Bytes each layer allocates beyond its inputs, and the fused layer's fraction."""

    def track_allocated_feature_map_then_pool(self, workload, dtype):
        return _allocated_peak(self.unfused)

    track_allocated_feature_map_then_pool.unit = "bytes"

    def track_allocated_conv_pool(self, workload, dtype):
        return _allocated_peak(self.fused)

    track_allocated_conv_pool.unit = "bytes"

    def track_fused_allocation_fraction(self, workload, dtype):
        return _allocated_peak(self.fused) / _allocated_peak(self.unfused)

    track_fused_allocation_fraction.unit = "fused / unfused"
