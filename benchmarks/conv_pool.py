"""Fused convolution + activation + pooling, and its memory against separate steps."""
import tracemalloc

import suite

from ._common import (BATCHED_WORKLOADS, DTYPES, FEATURE_MAP_VARIANTS, LAYER, MEMORY_WORKLOADS,
                      THREADED_VARIANTS, WORKLOADS, OnWorkload, Pinned, inputs, relu)


class ConvPool(OnWorkload):
    """``suite.conv_pool`` on one thread, one call per filter bank: ReLU, then max."""

    kernel = "conv_pool"
    params = (list(FEATURE_MAP_VARIANTS), list(WORKLOADS), list(DTYPES))
    param_names = ["variant", "workload", "dtype"]
    version = "1"

    def time_conv_pool(self, variant, workload, dtype):
        for weights, bias in self.banks:
            suite.conv_pool(self.x, weights, bias, variant=variant, n_threads=1, **LAYER)


class ConvPoolThreads(OnWorkload):
    """The threaded fused variants on two OpenMP threads (BLAS stays on one)."""

    kernel = "conv_pool"
    params = (list(THREADED_VARIANTS), list(BATCHED_WORKLOADS), list(DTYPES))
    param_names = ["variant", "workload", "dtype"]
    version = "1"

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
        self.x, self.banks = inputs(MEMORY_WORKLOADS[workload], dtype)

    def unfused(self):
        maps = [suite.feature_map(self.x, weights, bias, n_threads=1)
                for weights, bias in self.banks]
        return [suite.pool(relu(m), LAYER["method"]) for m in maps]

    def fused(self):
        return [suite.conv_pool(self.x, weights, bias, n_threads=1, **LAYER)
                for weights, bias in self.banks]


class PeakMemory(_Layer):
    """Peak resident memory of the process running each layer."""

    version = "1"

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

    version = "1"

    def track_allocated_feature_map_then_pool(self, workload, dtype):
        return _allocated_peak(self.unfused)

    track_allocated_feature_map_then_pool.unit = "bytes"

    def track_allocated_conv_pool(self, workload, dtype):
        return _allocated_peak(self.fused)

    track_allocated_conv_pool.unit = "bytes"

    def track_fused_allocation_fraction(self, workload, dtype):
        return _allocated_peak(self.fused) / _allocated_peak(self.unfused)

    track_fused_allocation_fraction.unit = "fused / unfused"
