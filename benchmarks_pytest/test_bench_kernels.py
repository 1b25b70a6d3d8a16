"""pytest-benchmark: every registered variant and the references, grouped per workload.

``pytest benchmarks_pytest --benchmark-enable`` times them; the normal test run
(``--benchmark-disable`` in pyproject.toml) calls each once, so a broken benchmark fails.
"""
import pytest

import suite
from suite import reference
from suite.registry import CONV_POOL, DTYPES, FEATURE_MAP, POOL
from suite.workloads import WORKLOADS, pool_kwargs

LAYER = {"activation": "relu", "method": "max"}
BATCHED = [name for name, w in WORKLOADS.items() if w.batch > 1]
SINGLE = [name for name, w in WORKLOADS.items() if w.batch == 1]


def _group(benchmark, workload, dtype):
    benchmark.group = f"{workload} {dtype}"
    benchmark.extra_info["flops"] = WORKLOADS[workload].flops()


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("workload", list(WORKLOADS))
@pytest.mark.parametrize("variant", list(FEATURE_MAP))
def test_feature_map(benchmark, inputs, variant, workload, dtype):
    x, banks = inputs(workload, dtype)
    _group(benchmark, workload, dtype)
    maps = benchmark(lambda: [suite.feature_map(x, w, b, variant=variant, n_threads=1)
                              for w, b in banks])
    assert [m.shape for m in maps] == [WORKLOADS[workload].out_shape(bank)
                                       for bank in WORKLOADS[workload].banks]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("workload", BATCHED)
@pytest.mark.parametrize("variant", [n for n, v in FEATURE_MAP.items() if v.threads])
def test_feature_map_2threads(benchmark, inputs, variant, workload, dtype):
    x, banks = inputs(workload, dtype)
    _group(benchmark, workload, dtype)
    benchmark(lambda: [suite.feature_map(x, w, b, variant=variant, n_threads=2)
                       for w, b in banks])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("workload", list(WORKLOADS))
@pytest.mark.parametrize("variant", list(CONV_POOL))
def test_conv_pool(benchmark, inputs, variant, workload, dtype):
    x, banks = inputs(workload, dtype)
    _group(benchmark, workload, dtype)
    pooled = benchmark(lambda: [suite.conv_pool(x, w, b, variant=variant, n_threads=1, **LAYER)
                                for w, b in banks])
    assert all(p.shape == (WORKLOADS[workload].batch, w.shape[0])
               for p, (w, _) in zip(pooled, banks))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("workload", list(WORKLOADS))
def test_correlate2d(benchmark, inputs, workload, dtype):
    x, banks = inputs(workload, dtype)
    _group(benchmark, workload, dtype)
    benchmark(lambda: [reference.feature_map(x, w, b) for w, b in banks])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("workload", SINGLE)  # a broadcast batch makes it take minutes
def test_fftconvolve(benchmark, inputs, workload, dtype):
    x, banks = inputs(workload, dtype)
    _group(benchmark, workload, dtype)
    benchmark(lambda: [reference.feature_map_fft(x, w, b) for w, b in banks])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("workload", BATCHED)
@pytest.mark.parametrize("method", list(POOL))
@pytest.mark.parametrize("impl", ["suite", "numpy"])
def test_pool(benchmark, impl, method, workload, dtype):
    maps = WORKLOADS[workload].maps(dtype)
    kwargs = pool_kwargs(method)
    fn = suite.pool if impl == "suite" else reference.pool
    benchmark.group = f"pool {workload} {dtype}"
    benchmark(lambda: [fn(m, method, **kwargs) for m in maps])
