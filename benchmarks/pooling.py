"""Pooling: every method against its NumPy reference, on stand-in batch feature maps."""
import numpy as np

import suite

from ._common import (BATCHED_WORKLOADS, DTYPES, IMAGE_MAPS, LONG_MAP, LONG_MAP_K, POOL_ARGS,
                      POOL_METHODS, WORKLOADS, Pinned, maps, numpy_pool, require)


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
        self.warm_up(method, workload, dtype)

    def time_pool(self, method, workload, dtype):
        for fmap in self.maps:
            suite.pool(fmap, method, **self.kwargs)

    def time_numpy_pool(self, method, workload, dtype):
        for fmap in self.maps:
            numpy_pool(fmap, method, **self.kwargs)


class KmaxLongMap(Pinned):
    """k-max pooling of one long map with a large k: selection, not insertion.

    One map of ``LONG_MAP`` positions (an image-sized map, or a long document's) keeps
    its ``LONG_MAP_K`` largest values.  ``ascending`` is the worst case of a scan that
    keeps the best k sorted (every value enters), ``random`` the typical one.
    """

    params = (["ascending", "random"], list(DTYPES))
    param_names = ["order", "dtype"]
    version = "1"

    def setup(self, order, dtype):
        require("pool", "kmax")
        super().setup()
        row = (np.arange(LONG_MAP, dtype=np.float64) if order == "ascending"
               else np.random.default_rng(1234).standard_normal(LONG_MAP))
        self.fmap = row.astype(dtype).reshape(1, 1, 1, LONG_MAP)
        self.warm_up(order, dtype)

    def time_pool(self, order, dtype):
        suite.pool(self.fmap, "kmax", k=LONG_MAP_K)

    def time_numpy_pool(self, order, dtype):
        numpy_pool(self.fmap, "kmax", k=LONG_MAP_K)


class ImageSizedMaps(Pinned):
    """Every method on a stack of image-sized maps (``IMAGE_MAPS``), against NumPy.

    Each map has tens of thousands of positions and the stack outgrows L2: what the
    kernels read, not what they compute, sets the time, for NumPy as for them.
    """

    params = (list(POOL_METHODS), list(IMAGE_MAPS))
    param_names = ["method", "maps"]
    version = "1"

    def setup(self, method, stack):
        require("pool", method)
        super().setup()
        count, rows, cols, dtype = IMAGE_MAPS[stack]
        rng = np.random.default_rng(1234)
        self.fmap = rng.standard_normal((count, 1, rows, cols)).astype(dtype)
        self.kwargs = POOL_ARGS.get(method, {})
        self.warm_up(method, stack)

    def time_pool(self, method, stack):
        suite.pool(self.fmap, method, **self.kwargs)

    def time_numpy_pool(self, method, stack):
        numpy_pool(self.fmap, method, **self.kwargs)
