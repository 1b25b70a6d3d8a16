"""Pooling: every method against its NumPy reference, on stand-in batch feature maps."""
import suite

from ._common import (BATCHED_WORKLOADS, DTYPES, POOL_ARGS, POOL_METHODS, WORKLOADS, Pinned,
                      maps, numpy_pool, require)


class Pool(Pinned):
    """``suite.pool`` and the NumPy pooling on the maps of each bank."""

    params = (list(POOL_METHODS), list(BATCHED_WORKLOADS), list(DTYPES))
    param_names = ["method", "workload", "dtype"]
    version = "1"

    def setup(self, method, workload, dtype):
        require("pool", method)
        super().setup()
        self.maps = maps(WORKLOADS[workload], dtype)
        self.kwargs = POOL_ARGS.get(method, {})

    def time_pool(self, method, workload, dtype):
        for fmap in self.maps:
            suite.pool(fmap, method, **self.kwargs)

    def time_numpy_pool(self, method, workload, dtype):
        for fmap in self.maps:
            numpy_pool(fmap, method, **self.kwargs)
