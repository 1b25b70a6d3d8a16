"""Fused convolution + activation + pooling, and its peak memory against separate steps."""
import suite
from suite.registry import CONV_POOL
from suite.workloads import MEMORY_WORKLOADS, WORKLOADS

from ._common import DTYPES, THREADED_WORKLOADS, WORKLOAD_NAMES, Pinned

THREADED = [name for name, v in CONV_POOL.items() if v.threads]
# The layer of Kim 2014: ReLU, then max-over-time pooling.
LAYER = {"activation": "relu", "method": "max"}


class ConvPool(Pinned):
    """``suite.conv_pool`` on one thread, one call per filter bank."""

    params = (list(CONV_POOL), WORKLOAD_NAMES, list(DTYPES))
    param_names = ["variant", "workload", "dtype"]

    def setup(self, variant, workload, dtype):
        super().setup()
        self.x, self.banks = WORKLOADS[workload].inputs(dtype)

    def time_conv_pool(self, variant, workload, dtype):
        for weights, bias in self.banks:
            suite.conv_pool(self.x, weights, bias, variant=variant, n_threads=1, **LAYER)


class ConvPoolThreads(Pinned):
    """The threaded fused variants on two OpenMP threads (BLAS stays on one)."""

    params = (THREADED, THREADED_WORKLOADS, list(DTYPES))
    param_names = ["variant", "workload", "dtype"]

    def setup(self, variant, workload, dtype):
        super().setup()
        self.x, self.banks = WORKLOADS[workload].inputs(dtype)

    def time_conv_pool_2threads(self, variant, workload, dtype):
        for weights, bias in self.banks:
            suite.conv_pool(self.x, weights, bias, variant=variant, n_threads=2, **LAYER)


class PeakMemory(Pinned):
    """Peak resident memory of a layer: feature maps then pooling, against fused.

    Both run ``variant="auto"`` on one thread; the unfused layer holds the maps of
    every bank at once, as a model does before concatenating the pooled features.
    """

    params = (list(MEMORY_WORKLOADS), list(DTYPES))
    param_names = ["workload", "dtype"]

    def setup(self, workload, dtype):
        super().setup()
        self.x, self.banks = MEMORY_WORKLOADS[workload].inputs(dtype)

    def peakmem_feature_map_then_pool(self, workload, dtype):
        maps = [suite.feature_map(self.x, weights, bias, n_threads=1)
                for weights, bias in self.banks]
        return [suite.pool(suite.reference.activate(m, LAYER["activation"]), LAYER["method"])
                for m in maps]

    def peakmem_conv_pool(self, workload, dtype):
        return [suite.conv_pool(self.x, weights, bias, n_threads=1, **LAYER)
                for weights, bias in self.banks]
