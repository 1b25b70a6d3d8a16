"""The asv benchmark suite: it passes ``asv check`` and every benchmark runs once."""
import importlib
import inspect
import itertools
import os
import subprocess
import sys

import pytest

from suite.registry import CONV_POOL, FEATURE_MAP, POOL

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:  # asv imports benchmarks/ from the project root; so do these tests
    sys.path.insert(0, ROOT)

PREFIXES = ("time_", "peakmem_", "track_", "mem_")
# The timing suite.  Other modules of benchmarks/ (the performance gate's) are tested
# with the gate: they run for minutes.
MODULES = ("feature_map", "conv_pool", "pooling")


def _classes():
    for name in MODULES:
        module = importlib.import_module(f"benchmarks.{name}")
        for name, cls in inspect.getmembers(module, inspect.isclass):
            if cls.__module__ == module.__name__ and any(
                    m.startswith(PREFIXES) for m in dir(cls)):
                yield cls


CLASSES = list(_classes())


def _cases():
    for cls in CLASSES:
        methods = [m for m in dir(cls) if m.startswith(PREFIXES)]
        for params in itertools.product(*cls.params):
            for method in methods:
                yield pytest.param(cls, method, params,
                                   id=f"{cls.__name__}.{method}-{'-'.join(params)}")


def test_asv_check_passes():
    env = dict(os.environ, ASV_PYTHONPATH=ROOT)
    done = subprocess.run([sys.executable, "-m", "asv", "check", "--python=same"], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "No problems found" in done.stdout


def test_every_registered_variant_is_benchmarked():
    params = {(cls.__name__, name): values for cls in CLASSES
              for name, values in zip(cls.param_names, cls.params)}
    assert set(params["FeatureMap", "variant"]) == set(FEATURE_MAP)
    assert set(params["ConvPool", "variant"]) == set(CONV_POOL)
    assert set(params["Pool", "method"]) == set(POOL)
    assert set(params["Throughput", "variant"]) == set(FEATURE_MAP)


@pytest.mark.parametrize("cls, method, params", list(_cases()))
def test_benchmark_runs_once(cls, method, params):
    bench = cls()
    bench.setup(*params)
    try:
        result = getattr(bench, method)(*params)
    finally:
        bench.teardown(*params)
    if method.startswith("track_"):
        assert isinstance(result, (int, float)) and not isinstance(result, bool) and result > 0
