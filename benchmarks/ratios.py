"""Wall-clock gate: each feature-map variant's time over scipy's, measured interleaved.

Absolute times from two runs on a shared machine differ by 10-30% with no change in the
code.  ``Ratios.track_time_ratio`` times a kernel and its reference,
``scipy.signal.correlate2d`` per channel, in turn in the same process (``interleaved``)
and reports the median of the per-round ratios kernel / reference: what slows the machine
down slows both sides of a round alike.  Both run on one thread; each side is repeated
within a round to last at least ``MIN_TIME``.  The report's "x correlate2d" column is the
reciprocal of the same figure.

``python benchmarks/ratios.py RUNS`` measures every case in RUNS separate processes and
prints, per case, the largest over the smallest ratio: the factor the gate must allow on
this machine (see benchmarks/README.md, "Wall-clock gate").
"""
import json
import os
import subprocess
import sys

if __package__:
    from ._common import (DTYPES, FEATURE_MAP_VARIANTS, WORKLOADS, Pinned, correlate2d,
                          inputs, interleaved, ratio, require)
else:  # run as a script
    # Appended: the build under test, installed or on PYTHONPATH, must win over the
    # source tree beside this directory.
    sys.path.append(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    from benchmarks._common import (DTYPES, FEATURE_MAP_VARIANTS, WORKLOADS, Pinned,
                                    correlate2d, inputs, interleaved, ratio, require)

COUNTED_WORKLOADS = ("utterance", "kim-mr")
ROUNDS = 15
MIN_TIME = 0.01   # seconds of calls per sample


def measure(workload, variant, dtype, rounds=ROUNDS):
    """Median over ``rounds`` of (kernel time / correlate2d time), taken in turn.

    Returns
    -------
    float
    """
    import suite

    x, banks = inputs(WORKLOADS[workload], dtype)

    def kernel():
        for weights, bias in banks:
            suite.feature_map(x, weights, bias, variant=variant, n_threads=1)

    times = interleaved({"kernel": kernel, "reference": lambda: correlate2d(x, banks)},
                        rounds, MIN_TIME)
    return ratio(times, "kernel", "reference")


class Ratios(Pinned):
    """Wall-clock time of a workload's ``feature_map`` calls over scipy's, same process."""

    unit = "ratio"
    params = [list(COUNTED_WORKLOADS), list(FEATURE_MAP_VARIANTS), list(DTYPES)]
    param_names = ["workload", "variant", "dtype"]
    timeout = 300
    version = "2"

    def setup(self, workload, variant, dtype):
        require("feature_map", variant)
        super().setup()

    def track_time_ratio(self, workload, variant, dtype):
        return measure(workload, variant, dtype)


def _one_run():
    from threadpoolctl import threadpool_limits

    import suite
    with threadpool_limits(limits=1):
        return {f"{w}/{v}/{d}": measure(w, v, d) for w in COUNTED_WORKLOADS
                for v in FEATURE_MAP_VARIANTS for d in DTYPES
                if v in suite.variants()["feature_map"]}


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
