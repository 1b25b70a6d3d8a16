"""The asv benchmark suite: it passes ``asv check``, every benchmark runs once, and its
frozen matrix covers what the build registers while calling only the public API."""
import ast
import importlib
import inspect
import itertools
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from suite.registry import CONV_POOL, FEATURE_MAP, POOL
from suite.workloads import MEMORY_WORKLOADS, WORKLOADS

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:  # asv imports benchmarks/ from the project root; so do these tests
    sys.path.insert(0, ROOT)

PREFIXES = ("time_", "peakmem_", "track_", "mem_")
# The timing suite.  Other modules of benchmarks/ (the performance gate's) are tested
# with the gate: they run for minutes.
MODULES = ("feature_map", "conv_pool", "pooling", "model")


def _classes():
    for name in MODULES:
        module = importlib.import_module(f"benchmarks.{name}")
        for _, cls in inspect.getmembers(module, inspect.isclass):
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
    # The suite's lists are frozen (older builds must line up with them), so a variant
    # added to the registry must be added there too: this is what reminds you.
    params = {(cls.__name__, name): values for cls in CLASSES
              for name, values in zip(cls.param_names, cls.params)}
    assert set(FEATURE_MAP) <= set(params["FeatureMap", "variant"])
    assert set(CONV_POOL) <= set(params["ConvPool", "variant"])
    assert set(POOL) <= set(params["Pool", "method"])
    assert set(FEATURE_MAP) <= set(params["Throughput", "variant"])
    from benchmarks import _common
    threaded = {name for name, v in FEATURE_MAP.items() if v.threads}
    assert threaded <= set(_common.THREADED_VARIANTS)


def test_frozen_classifier_matches_the_package():
    from benchmarks import _common
    from suite.workloads import INTENT
    assert INTENT.cases == _common.INTENT_CASES
    for dtype in ("float32", "float64"):
        frozen, package = _common.intent_model(dtype), INTENT.model(dtype)
        for case in INTENT.cases:
            tokens, lengths = _common.intent_tokens(case)
            want_tokens, want_lengths = INTENT.tokens(case)
            assert np.array_equal(tokens, want_tokens) and np.array_equal(lengths, want_lengths)
        np.testing.assert_array_equal(frozen.logits(tokens, lengths),
                                      package.logits(tokens, lengths))


@pytest.mark.parametrize("name", sorted(set(WORKLOADS) | set(MEMORY_WORKLOADS)))
def test_frozen_workloads_match_the_package(name):
    from benchmarks import _common
    frozen = {**_common.WORKLOADS, **_common.MEMORY_WORKLOADS}
    spec = {**WORKLOADS, **MEMORY_WORKLOADS}[name]
    assert frozen[name] == (spec.batch, spec.n, spec.d, spec.banks)
    x, banks = _common.inputs(frozen[name], "float32")
    want_x, want_banks = spec.inputs("float32")
    assert np.array_equal(x, want_x)
    assert all(np.array_equal(a, b) for bank, want in zip(banks, want_banks)
               for a, b in zip(bank, want))


PUBLIC = {"feature_map", "pool", "conv_pool", "variants", "TextCNN"}


@pytest.mark.parametrize("path", sorted(
    os.path.join(ROOT, "benchmarks", f) for f in os.listdir(os.path.join(ROOT, "benchmarks"))
    if f.endswith(".py")), ids=os.path.basename)
def test_benchmarks_reach_the_build_only_through_the_public_api(path):
    # What an older build lacks would fail at import instead of being n/a.  The counting
    # driver's marked region (suite._callgrind) is the one exception: it is imported in
    # a function, after the benchmark checked that the build has it.
    with open(path) as f:
        tree = ast.parse(f.read())
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and \
                node.module.split(".")[0] == "suite":
            assert node.module == "suite._callgrind", f"line {node.lineno}: from {node.module}"
        elif isinstance(node, ast.Import):
            for alias in node.names:
                assert alias.name.split(".")[0] != "suite" or alias.name in (
                    "suite", "suite._callgrind"), f"line {node.lineno}: import {alias.name}"
        elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and \
                node.value.id == "suite":
            assert node.attr in PUBLIC | {"__file__"}, f"line {node.lineno}: suite.{node.attr}"


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


_FIRST_TIMED_CALL = """
import json, sys
sys.path.insert(0, {root!r})
from benchmarks import {module}
bench = {module}.{cls}()
params = {params!r}
bench.setup(*params)
before = set(sys.modules)
getattr(bench, {method!r})(*params)
print(json.dumps(sorted(set(sys.modules) - before)))
"""


def _first_timed_calls():
    for cls in CLASSES:
        for method in sorted(m for m in dir(cls) if m.startswith("time_")):
            params = next(itertools.product(*cls.params))
            yield pytest.param(cls, method, params, id=f"{cls.__name__}.{method}")


@pytest.mark.parametrize("cls, method, params", _first_timed_calls())
def test_a_timed_call_imports_nothing_the_first_time(cls, method, params):
    # In a fresh process, as asv runs a benchmark: whatever a timed call would import
    # for the first time (scipy.signal, which the references and suite import lazily)
    # is imported by setup, outside the timing.
    script = _FIRST_TIMED_CALL.format(root=ROOT, module=cls.__module__.split(".")[-1],
                                      cls=cls.__name__, params=params, method=method)
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)
    if done.returncode != 0 and "NotImplementedError" in done.stderr:
        pytest.skip(f"this build has no {params}: n/a in asv")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.splitlines()[-1]) == []
