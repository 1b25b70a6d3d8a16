"""Feature maps: every registered variant, the scipy.signal references, GFLOP/s and speedups."""
import statistics

import suite
from suite import reference, timing
from suite.registry import FEATURE_MAP
from suite.workloads import WORKLOADS

from ._common import DTYPES, THREADED_WORKLOADS, WORKLOAD_NAMES, OnWorkload, Pinned

# fftconvolve broadcasts a batch against a whole bank: on kim-mr-b64 one call takes
# half a minute, so the FFT reference runs on the batch-1 workloads only.
FFT_WORKLOADS = [name for name, w in WORKLOADS.items() if w.batch == 1]
THREADED = [name for name, v in FEATURE_MAP.items() if v.threads]


class FeatureMap(OnWorkload):
    """``suite.feature_map`` on one thread, one call per filter bank."""

    params = (list(FEATURE_MAP), WORKLOAD_NAMES, list(DTYPES))
    param_names = ["variant", "workload", "dtype"]


    def time_feature_map(self, variant, workload, dtype):
        for weights, bias in self.banks:
            suite.feature_map(self.x, weights, bias, variant=variant, n_threads=1)


class FeatureMapThreads(OnWorkload):
    """The threaded variants on two OpenMP threads (BLAS stays on one)."""

    params = (THREADED, THREADED_WORKLOADS, list(DTYPES))
    param_names = ["variant", "workload", "dtype"]


    def time_feature_map_2threads(self, variant, workload, dtype):
        for weights, bias in self.banks:
            suite.feature_map(self.x, weights, bias, variant=variant, n_threads=2)


class Correlate2d(OnWorkload):
    """The reference: ``scipy.signal.correlate2d`` per sentence and channel."""

    params = (WORKLOAD_NAMES, list(DTYPES))
    param_names = ["workload", "dtype"]


    def time_correlate2d(self, workload, dtype):
        for weights, bias in self.banks:
            reference.feature_map(self.x, weights, bias)


class FFTConvolve(OnWorkload):
    """The FFT reference: one ``scipy.signal.fftconvolve(..., axes=(-2, -1))`` per bank."""

    params = (FFT_WORKLOADS, list(DTYPES))
    param_names = ["workload", "dtype"]


    def time_fftconvolve(self, workload, dtype):
        for weights, bias in self.banks:
            reference.feature_map_fft(self.x, weights, bias)


class Throughput(Pinned):
    """GFLOP/s of each variant, and its speedup over correlate2d timed alongside it.

    The two are sampled in turn (``suite.timing.interleaved``) so load from other
    processes hits both alike.  correlate2d runs on at most 8 sentences of a batch and
    is scaled to the whole batch: it works sentence by sentence, so its time is linear
    in the batch.
    """

    params = (list(FEATURE_MAP), WORKLOAD_NAMES, list(DTYPES))
    param_names = ["variant", "workload", "dtype"]
    # Samples per figure, within a time budget: asv runs a track once per benchmark run.
    samples, budget = 3, 1.0

    def setup(self, variant, workload, dtype):
        super().setup()
        self.workload = WORKLOADS[workload]
        self.x, self.banks = self.workload.inputs(dtype)
        self.run = timing.workload_calls(suite.feature_map, self.x, self.banks,
                                         variant=variant, n_threads=1)

    def track_gflops(self, variant, workload, dtype):
        seconds = timing.median_time(self.run, self.samples, max_time=self.budget)
        return self.workload.flops() / seconds / 1e9

    track_gflops.unit = "GFLOP/s"

    def track_speedup_over_correlate2d(self, variant, workload, dtype):
        sample, scale = timing.sentence_sample(self.x)
        ref = timing.workload_calls(reference.feature_map, sample, self.banks)
        times = timing.interleaved({"variant": self.run, "correlate2d": ref},
                                   self.samples, max_time=self.budget)
        return (statistics.median(times["correlate2d"]) * scale
                / statistics.median(times["variant"]))

    track_speedup_over_correlate2d.unit = "x"
