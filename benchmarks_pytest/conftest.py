"""Fixtures of the pytest-benchmark suite: seeded inputs and BLAS/OpenMP pinned to one thread."""
import pytest

from suite import timing
from suite.workloads import WORKLOADS


@pytest.fixture(autouse=True)
def _one_thread():
    """Benchmarks run on one BLAS and one OpenMP thread unless they ask for more."""
    with timing.single_threaded():
        yield


@pytest.fixture(scope="session")
def inputs():
    """Seeded ``(x, banks)`` of a workload and dtype, made once per session."""
    cache = {}

    def get(workload, dtype):
        if (workload, dtype) not in cache:
            cache[workload, dtype] = WORKLOADS[workload].inputs(dtype)
        return cache[workload, dtype]
    return get
