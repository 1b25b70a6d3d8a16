"""n_threads: None means OpenMP's current limit; any positive value is safe.

The compiled kernels return the number of threads that ran at least one task, which the
registry's runners pass on; the tests read it by wrapping a registered runner.
"""
import dataclasses
import os
import subprocess
import sys

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

import suite
from suite import _runtime, reference, registry
from suite.registry import CONV_POOL, FEATURE_MAP
from assertions import assert_feature_maps_close

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
THREADED = [name for name, v in FEATURE_MAP.items() if v.threads]


def _inputs(rng):
    # Big enough for `auto` to go parallel with two threads (2**20 multiply-adds).
    return (rng.standard_normal((16, 24, 64)), rng.standard_normal((16, 3, 64)) / 8,
            rng.standard_normal(16))


def _recording(monkeypatch, table, name):
    """Record the threads each call of ``table[name]`` ran on."""
    used = []
    variant = table[name]

    def run(*args):
        used.append(variant.run(*args))
        return used[-1]
    monkeypatch.setitem(table, name, dataclasses.replace(variant, run=run))
    return used


def test_effective_threads_is_openmp_limit():
    assert registry.effective_threads() == _runtime.omp_max_threads() >= 1
    assert registry.effective_threads(3) == 3
    with threadpool_limits(1, user_api="openmp"):
        assert _runtime.omp_max_threads() == 1
        assert registry.effective_threads() == 1


@pytest.mark.parametrize("variant", THREADED)
def test_unset_n_threads_follows_threadpool_limits(rng, monkeypatch, variant):
    x, w, b = _inputs(rng)
    fmap_used = _recording(monkeypatch, FEATURE_MAP, variant)
    pool_used = _recording(monkeypatch, CONV_POOL, variant)
    with threadpool_limits(1, user_api="openmp"):
        assert_feature_maps_close(suite.feature_map(x, w, b, variant=variant), x, w, b)
        suite.conv_pool(x, w, b, variant=variant)
    assert fmap_used == [1] and pool_used == [1]
    # Two threads asked for explicitly, and the limit does not apply.
    with threadpool_limits(1, user_api="openmp"):
        suite.feature_map(x, w, b, variant=variant, n_threads=2)
        suite.conv_pool(x, w, b, variant=variant, n_threads=2)
    assert fmap_used[-1] == 2 and pool_used[-1] == 2


@pytest.mark.parametrize("omp_num_threads", ["1", "2"])
def test_unset_n_threads_follows_omp_num_threads(omp_num_threads):
    script = """if True:
        import dataclasses, numpy as np, suite
        from suite.registry import FEATURE_MAP
        used = []
        run = FEATURE_MAP["parallel"].run
        FEATURE_MAP["parallel"] = dataclasses.replace(
            FEATURE_MAP["parallel"], run=lambda *a: used.append(run(*a)))
        suite.feature_map(np.ones((16, 24, 64)), np.ones((16, 3, 64)), variant="parallel")
        print(used[0])
    """
    env = dict(os.environ, OMP_NUM_THREADS=omp_num_threads, PYTHONPATH=ROOT)
    done = subprocess.run([sys.executable, "-c", script], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [omp_num_threads]


@pytest.mark.parametrize("variant", THREADED)
def test_absurd_n_threads_is_safe(rng, monkeypatch, variant):
    # A single sentence with 5 channels is at most 5 tasks: never more threads than that.
    x, w, b = rng.standard_normal((20, 30)), rng.standard_normal((5, 3, 30)), np.ones(5)
    fmap_used = _recording(monkeypatch, FEATURE_MAP, variant)
    pool_used = _recording(monkeypatch, CONV_POOL, variant)
    out = suite.feature_map(x, w, b, n_threads=100000, variant=variant)
    assert_feature_maps_close(out, x, w, b)
    reference.assert_close(suite.conv_pool(x, w, b, n_threads=100000, variant=variant),
                           reference.conv_pool(x, w, b), "float64")
    assert 1 <= fmap_used[0] <= 5 and 1 <= pool_used[0] <= 5


def test_readme_example_with_absurd_n_threads():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((20, 300))
    w = rng.standard_normal((100, 3, 300)) / 30
    assert_feature_maps_close(suite.feature_map(x, w, n_threads=100000, variant="parallel"),
                              x, w, None)


# The narrower builds of the per-instruction-set kernels, and the switches that select them.
NARROWER_BUILDS = {"baseline": {"SUITE_NO_AVX2": "1"}, "avx2+fma": {"SUITE_NO_AVX512": "1"}}


@pytest.mark.parametrize("isa", list(NARROWER_BUILDS))
@pytest.mark.parametrize("variant", ["tiles", "simd", "direct"])
def test_narrower_builds(variant, isa):
    import suite._runtime
    if isa == "avx2+fma" and not suite._runtime._has_avx2_fma():
        pytest.skip("this CPU has no AVX2+FMA: the avx2+fma build cannot run here")
    # Text-CNN shapes, narrow filters, and small 2-D filters over rows of several vectors
    # with a channel block and a row of vectors left over (the direct kernel's paths).
    script = f"""if True:
        import numpy as np, suite, suite._runtime
        from suite import reference
        assert suite._runtime.ISA == "{isa}", suite._runtime.ISA
        rng = np.random.default_rng(5)
        for dtype, tol in (("float64", 1e-10), ("float32", 1e-4)):
            for shape in ((3, 20, 50, 7, 3, 50), (2, 9, 12, 5, 2, 7), (1, 8, 10, 3, 3, 10),
                          (2, 10, 70, 6, 3, 5), (1, 6, 40, 5, 2, 3)):
                batch, n, d, channels, h, w = shape
                x = rng.standard_normal((batch, n, d)).astype(dtype)
                f = rng.standard_normal((channels, h, w)).astype(dtype)
                b = rng.standard_normal(channels).astype(dtype)
                reference.assert_close(suite.feature_map(x, f, b, variant="{variant}"),
                                       reference.feature_map(x, f, b), dtype,
                                       reference.feature_map_magnitude(x, f, b))
        print("ok")
    """
    env = dict(os.environ, PYTHONPATH=ROOT, **NARROWER_BUILDS[isa])
    done = subprocess.run([sys.executable, "-c", script], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["ok"]


@pytest.mark.parametrize("isa", list(NARROWER_BUILDS))
def test_model_on_narrower_builds(isa):
    # suite.TextCNN packs its weights for the vectors of the build in use.
    import suite._runtime
    if isa == "avx2+fma" and not suite._runtime._has_avx2_fma():
        pytest.skip("this CPU has no AVX2+FMA: the avx2+fma build cannot run here")
    env = dict(os.environ, PYTHONPATH=ROOT, **NARROWER_BUILDS[isa])
    done = subprocess.run(
        [sys.executable, "-c", "import suite._runtime; print(suite._runtime.ISA)"],
        env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.stdout.split() == [isa], done.stderr
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-n", "0",
         os.path.join(ROOT, "tests", "test_model.py"), "-k", "packed or same_bits"],
        env=env, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
