"""Helpers shared by the asv benchmark modules (no benchmarks here)."""
from threadpoolctl import threadpool_limits

from suite.workloads import WORKLOADS

DTYPES = ("float64", "float32")
WORKLOAD_NAMES = list(WORKLOADS)
# Workloads big enough for several threads to pay off.
THREADED_WORKLOADS = [name for name, w in WORKLOADS.items() if w.batch > 1]


class Pinned:
    """Base class: BLAS and OpenMP pools on one thread while a benchmark runs.

    Kernels are called with ``n_threads=1`` unless the benchmark's name says how many
    threads it uses; an explicit ``n_threads`` is not limited by the OpenMP pin.
    """

    def setup(self, *params):
        self._limits = [threadpool_limits(limits=1, user_api="blas"),
                        threadpool_limits(limits=1, user_api="openmp")]

    def teardown(self, *params):
        for limit in reversed(getattr(self, "_limits", [])):
            limit.restore_original_limits()


class OnWorkload(Pinned):
    """Base class: the seeded inputs of the case's ``workload`` and ``dtype`` parameters.

    ``self.x`` is the batch of sentences and ``self.banks`` the ``(weights, bias)`` of each
    filter bank, from ``Workload.inputs``.
    """

    def setup(self, *params):
        super().setup()
        case = dict(zip(self.param_names, params))
        self.x, self.banks = WORKLOADS[case["workload"]].inputs(case["dtype"])
