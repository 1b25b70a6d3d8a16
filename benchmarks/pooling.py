"""Pooling: every registered method against its NumPy reference, on batch feature maps."""
import suite
from suite import reference
from suite.registry import POOL
from suite.workloads import WORKLOADS, pool_kwargs

from ._common import DTYPES, THREADED_WORKLOADS, Pinned


class Pool(Pinned):
    """``suite.pool`` and ``suite.reference.pool`` on the maps of each bank."""

    params = (list(POOL), THREADED_WORKLOADS, list(DTYPES))
    param_names = ["method", "workload", "dtype"]

    def setup(self, method, workload, dtype):
        super().setup()
        self.maps = WORKLOADS[workload].maps(dtype)
        self.kwargs = pool_kwargs(method)

    def time_pool(self, method, workload, dtype):
        for fmap in self.maps:
            suite.pool(fmap, method, **self.kwargs)

    def time_numpy_pool(self, method, workload, dtype):
        for fmap in self.maps:
            reference.pool(fmap, method, **self.kwargs)
