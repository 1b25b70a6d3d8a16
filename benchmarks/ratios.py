"""Wall-clock gate: each feature-map variant's time over scipy's, measured interleaved.

Absolute times from two runs on a shared machine differ by 10-30% with no change in the
code.  ``Ratios.track_time_ratio`` times a kernel and its reference,
``suite.reference.feature_map`` (``scipy.signal.correlate2d`` per channel), alternately in
the same process, and reports the median of the per-round ratios kernel / reference: what
slows the machine down slows both sides of a round alike.  Both run on one thread; the
kernel is repeated within a round to last at least ``MIN_TIME``.

``python benchmarks/ratios.py RUNS`` measures every case in RUNS separate processes and
prints, per case, the largest over the smallest ratio: the factor the gate must allow on
this machine (see README.md, "Performance gate").
"""
import json
import os
import statistics
import subprocess
import sys
import time

from suite.registry import DTYPES, FEATURE_MAP
from suite.timing import calibrate

WORKLOADS = ("utterance", "kim-mr")
ROUNDS = 15
MIN_TIME = 0.01   # seconds of kernel calls per round


def _inputs(workload, dtype):
    from suite.workloads import WORKLOADS as ALL
    return ALL[workload].inputs(dtype)


def measure(workload, variant, dtype, rounds=ROUNDS):
    """Median over ``rounds`` of (kernel time / reference time), measured back to back.

    Returns
    -------
    float
    """
    import suite
    from suite import reference

    x, banks = _inputs(workload, dtype)

    def kernel():
        for weights, bias in banks:
            suite.feature_map(x, weights, bias, variant=variant, n_threads=1)

    def ref():
        for weights, bias in banks:
            reference.feature_map(x[0], weights, bias)

    ref()  # warm up
    # A kernel call can be a hundred times shorter than the reference's: repeat it so that
    # both sides of a round last about as long, and timer noise weighs on neither.
    number, _ = calibrate(kernel, min_time=MIN_TIME)
    ratios = []
    for i in range(rounds):
        # Alternate which side goes first, so neither always follows the other.
        order = ((kernel, number), (ref, 1)) if i % 2 == 0 else ((ref, 1), (kernel, number))
        times = {}
        for f, calls in order:
            start = time.perf_counter()
            for _ in range(calls):
                f()
            times[f] = (time.perf_counter() - start) / calls
        ratios.append(times[kernel] / times[ref])
    return statistics.median(ratios)


class Ratios:
    """Wall-clock time of a workload's ``feature_map`` calls over scipy's, same process."""

    unit = "ratio"
    params = [list(WORKLOADS), list(FEATURE_MAP), list(DTYPES)]
    param_names = ["workload", "variant", "dtype"]
    timeout = 300

    def setup(self, workload, variant, dtype):
        if dtype not in FEATURE_MAP[variant].dtypes:
            raise NotImplementedError(f"variant {variant!r} has no {dtype} kernel")
        from threadpoolctl import threadpool_limits
        self._limits = threadpool_limits(limits=1)

    def teardown(self, workload, variant, dtype):
        self._limits.restore_original_limits()

    def track_time_ratio(self, workload, variant, dtype):
        return measure(workload, variant, dtype)


def _one_run():
    from threadpoolctl import threadpool_limits
    with threadpool_limits(limits=1):
        return {f"{w}/{v}/{d}": measure(w, v, d)
                for w in WORKLOADS for v in FEATURE_MAP for d in DTYPES
                if d in FEATURE_MAP[v].dtypes}


if __name__ == "__main__":
    if sys.argv[1:2] == ["--one"]:
        print(json.dumps(_one_run()))
        sys.exit(0)
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    results = [json.loads(subprocess.run([sys.executable, __file__, "--one"], env=env,
                                         check=True, capture_output=True, text=True).stdout)
               for _ in range(runs)]
    spread = {key: max(r[key] for r in results) / min(r[key] for r in results)
              for key in results[0]}
    for key, value in sorted(spread.items(), key=lambda kv: -kv[1]):
        values = " ".join(f"{r[key]:.4f}" for r in results)
        print(f"{key:28s} max/min {value:.3f}   ratios {values}")
    print(f"largest max/min over {runs} runs: {max(spread.values()):.3f}")
