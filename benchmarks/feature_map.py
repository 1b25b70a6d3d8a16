"""Feature maps: every variant on one and two threads, the scipy.signal references, GFLOP/s."""
import statistics

import suite

from ._common import (BATCH1_WORKLOADS, BATCHED_WORKLOADS, DTYPES, FEATURE_MAP_VARIANTS,
                      THREADED_VARIANTS, WORKLOADS, OnWorkload, correlate2d, fftconvolve,
                      flops, interleaved)


class FeatureMap(OnWorkload):
    """``suite.feature_map`` on one thread, one call per filter bank."""

    params = (list(FEATURE_MAP_VARIANTS), list(WORKLOADS), list(DTYPES))
    param_names = ["variant", "workload", "dtype"]
    version = "1"

    def time_feature_map(self, variant, workload, dtype):
        for weights, bias in self.banks:
            suite.feature_map(self.x, weights, bias, variant=variant, n_threads=1)


class FeatureMapThreads(OnWorkload):
    """The threaded variants on two OpenMP threads (BLAS stays on one)."""

    params = (list(THREADED_VARIANTS), list(BATCHED_WORKLOADS), list(DTYPES))
    param_names = ["variant", "workload", "dtype"]
    version = "1"

    def time_feature_map_2threads(self, variant, workload, dtype):
        for weights, bias in self.banks:
            suite.feature_map(self.x, weights, bias, variant=variant, n_threads=2)


class Correlate2d(OnWorkload):
    """The reference: ``scipy.signal.correlate2d`` per sentence and channel."""

    params = (list(WORKLOADS), list(DTYPES))
    param_names = ["workload", "dtype"]
    version = "1"

    def time_correlate2d(self, workload, dtype):
        correlate2d(self.x, self.banks)


class FFTConvolve(OnWorkload):
    """The FFT reference: one ``scipy.signal.fftconvolve(..., axes=(-2, -1))`` per bank.

    It broadcasts a batch against a whole bank: on a batch of 64 one call takes half a
    minute, so it runs on the batch-1 workloads only.
    """

    params = (list(BATCH1_WORKLOADS), list(DTYPES))
    param_names = ["workload", "dtype"]
    version = "1"

    def time_fftconvolve(self, workload, dtype):
        fftconvolve(self.x, self.banks)


class Throughput(OnWorkload):
    """GFLOP/s of each variant on one thread: the median of a few calibrated samples."""

    params = (list(FEATURE_MAP_VARIANTS), list(WORKLOADS), list(DTYPES))
    param_names = ["variant", "workload", "dtype"]
    # Samples per figure, within a time budget: asv runs a track once per benchmark run.
    samples, budget = 3, 1.0
    version = "1"

    def track_gflops(self, variant, workload, dtype):
        def run():
            for weights, bias in self.banks:
                suite.feature_map(self.x, weights, bias, variant=variant, n_threads=1)

        times = interleaved({"run": run}, self.samples, max_time=self.budget)["run"]
        return flops(workload) / statistics.median(times) / 1e9

    track_gflops.unit = "GFLOP/s"
