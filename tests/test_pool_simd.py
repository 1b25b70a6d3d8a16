"""The vector pooling kernels at their edges, in every build of the kernels this CPU runs.

``suite.pool``'s max and avg and the fused ``conv_pool`` of the direct core reduce in the
vectors of the build ``suite._runtime`` chose at import (``_reduce.pxi``,
``_direct_pool.pxi``): a row's head before the first aligned vector, its tail after the
last, rows shorter than a vector, NaN in any of these places, infinities and zeros of
both signs.  The build is fixed at import, so ``test_narrower_builds`` runs this module
again in a process for each narrower build (``SUITE_NO_AVX512``, ``SUITE_NO_AVX2``).
"""
import os
import subprocess
import sys

import numpy as np
import pytest

import suite
from suite import reference
from suite.registry import DTYPES, POOL

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
METHODS = list(POOL)
# Positions around the lanes of every build (2 to 16) and its 4-vector steps, and an
# image-sized map.
LENGTHS = [1, 2, 3, 5, 7, 8, 9, 15, 16, 17, 31, 33, 63, 64, 65, 127, 200, 1001, 16800]


def _kwargs(method, positions):
    return {"kmax": {"k": min(3, positions)},
            "chunk_max": {"chunks": min(4, positions)}}.get(method, {})


def _old_max(row):
    """``_scalar_max`` of ``pyx/suite/_pool.pyx`` (the path every build's max agrees
    with, to the bit): the first NaN, else four running maxima, ties to the lower."""
    nan = np.flatnonzero(np.isnan(row))
    if nan.size:
        return row[nan[0]]
    n = len(row)
    m = [row[0]] * 4
    for i in range(0, n - 3, 4):
        for j in range(4):
            m[j] = row[i + j] if row[i + j] > m[j] else m[j]
    for i in range(n - n % 4, n):
        m[0] = row[i] if row[i] > m[0] else m[0]
    m0 = m[1] if m[1] > m[0] else m[0]
    m2 = m[3] if m[3] > m[2] else m[2]
    return m2 if m2 > m0 else m0


def _assert_same_bits(got, want):
    got, want = np.asarray(got), np.asarray(want)
    assert got.dtype == want.dtype and got.shape == want.shape
    np.testing.assert_array_equal(got.view(f"u{got.itemsize}"), want.view(f"u{want.itemsize}"))


def _assert_pooled(fmap, method, **kw):
    """``suite.pool`` against the reference: exactly, but for avg's rounding."""
    out = suite.pool(fmap, method, **kw)
    with np.errstate(invalid="ignore"):
        expected = reference.pool(fmap.astype(out.dtype), method, **kw)
    assert out.dtype == (np.float32 if fmap.dtype == np.float32 else np.float64)
    if method == "avg":
        reference.assert_close(out, expected, out.dtype)
    else:
        np.testing.assert_array_equal(out, expected)
    if method == "max":
        flat = np.ascontiguousarray(fmap, dtype=out.dtype).reshape(-1, fmap.shape[-2]
                                                                  * fmap.shape[-1])
        want = np.array([_old_max(row) for row in flat], out.dtype).reshape(out.shape)
        _assert_same_bits(out, want)
    return out


def _nan_positions(n):
    """Position classes of a row of n: first, last, middle, and where any build's
    vectors begin and end (the head before an aligned vector, a vector's tail)."""
    return sorted({0, n - 1, n // 2, min(n - 1, 1), max(0, n - 2), max(0, n - 9),
                   min(n - 1, 15), min(n - 1, 16), min(n - 1, 63)})


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("n", LENGTHS)
def test_nan_at_every_position_class(rng, dtype, method, n):
    positions = _nan_positions(n)
    rows = np.repeat(rng.standard_normal((1, n)), len(positions) + 1, axis=0).astype(dtype)
    for r, q in enumerate(positions, 1):
        rows[r, q] = np.nan
    out = _assert_pooled(rows.reshape(1, -1, 1, n), method, **_kwargs(method, n))
    assert not np.isnan(out[0, 0]).any()
    assert np.isnan(out[0, 1:]).any(axis=-1).all()


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("n", LENGTHS)
def test_infinities_and_equal_values(rng, dtype, method, n):
    base = rng.standard_normal(n)
    rows = [np.full(n, 2.5), np.full(n, np.inf), np.full(n, -np.inf), np.zeros(n),
            np.where(rng.random(n) < 0.5, 0.0, -0.0), -np.abs(base),
            np.where(rng.random(n) < 0.3, -0.0, -np.abs(base))]
    for q in _nan_positions(n):
        for value in (np.inf, -np.inf):
            row = base.copy()
            row[q] = value
            rows.append(row)
    both = base.copy()
    both[0], both[-1] = np.inf, -np.inf   # a sum of inf - inf: NaN, and no NaN in the row
    rows.append(both)
    fmap = np.array(rows, dtype).reshape(1, len(rows), n, 1)
    _assert_pooled(fmap, method, **_kwargs(method, n))


@pytest.mark.parametrize("method", METHODS)
def test_every_dtype_and_layout(rng, method):
    # Non-contiguous maps (a transposed, a strided and a reversed view), integers and
    # float16 (pooled in float64), and the registered dtypes.
    base = rng.standard_normal((3, 5, 41, 37))
    base[1, 2, 7, 3] = np.nan
    views = [base.transpose(0, 1, 3, 2), base[:, :, ::2, ::3], base[..., ::-1]]
    arrays = views + [v.astype(np.float32) for v in views]
    arrays += [(np.nan_to_num(base[..., :9]) * 10).round().astype(dt)
               for dt in (np.int64, np.int32)]
    arrays += [np.nan_to_num(base).astype(np.float16)] + [base.astype(dt) for dt in DTYPES]
    for fmap in arrays:
        positions = fmap.shape[-2] * fmap.shape[-1]
        _assert_pooled(fmap, method, **_kwargs(method, positions))


@pytest.mark.parametrize("dtype", DTYPES)
def test_chunks_across_vectors(rng, dtype):
    # Chunks start anywhere in a vector; each is a row of its own for the max kernel.
    n = 1000
    row = rng.standard_normal(n)
    for chunks in (1, 3, 7, 31, 64, 999, 1000):
        fmap = np.stack([row, np.where(np.arange(n) == 501, np.nan, row)]).astype(dtype)
        _assert_pooled(fmap.reshape(1, 2, 1, n), "chunk_max", chunks=chunks)


def _maps(x, w, b):
    return suite.feature_map(x, w, b, variant="direct")


# (batch, n, d, channels, h, w): rows of several vectors, of one and a part, narrower
# than a vector (the scalar rows), one output row, a block of channels left over.
FUSED_SHAPES = [(2, 20, 60, 6, 3, 3), (1, 12, 29, 5, 3, 5), (3, 9, 12, 4, 2, 3),
                (1, 5, 40, 2, 5, 7), (2, 8, 8, 9, 1, 1), (1, 40, 128, 16, 7, 7)]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", FUSED_SHAPES, ids=str)
@pytest.mark.parametrize("special", ["none", "nan", "inf", "-inf", "zeros", "negative"])
def test_fused_direct_pooling_is_the_two_pass_result(rng, dtype, shape, special):
    # The direct core pools its maps as it computes them: max has the bits of pooling
    # the maps feature_map gives, for the identity (zeros of either sign) and ReLU; avg
    # is within the rounding of its sum.  NaN or inf in the input reach some windows.
    batch, n, d, channels, h, w = shape
    x = rng.standard_normal((batch, n, d)).astype(dtype)
    wt = rng.standard_normal((channels, h, w)).astype(dtype)
    b = rng.standard_normal(channels).astype(dtype)
    if special in ("nan", "inf", "-inf"):
        value = {"nan": np.nan, "inf": np.inf, "-inf": -np.inf}[special]
        x[0, 0, 0] = value
        x[-1, n // 2, d - 1] = value
        x[-1, n - 1, d // 2] = value
    elif special == "zeros":
        x[0] = 0
        b[:] = 0
        wt[0] = -0.0
    elif special == "negative":
        x = np.abs(x)
        wt = -np.abs(wt)
    with np.errstate(invalid="ignore", over="ignore"):
        maps = _maps(x, wt, b)
        for activation in ("identity", "relu"):
            act = reference.activate(maps, activation)
            got = suite.conv_pool(x, wt, b, activation=activation, method="max",
                                  variant="direct")
            want = suite.pool(act, "max")
            if activation == "identity":
                _assert_same_bits(got, want)
            else:
                np.testing.assert_array_equal(got, want)
            got = suite.conv_pool(x, wt, b, activation=activation, method="avg",
                                  variant="direct")
            reference.assert_close(got, reference.pool(act.astype(np.float64), "avg"),
                                   dtype)
        for activation in ("selu", "tanh"):
            # Pooled in the activated maps' second pass, as every other core does.
            got = suite.conv_pool(x, wt, b, activation=activation, method="max",
                                  variant="direct")
            reference.assert_close(got, reference.pool(reference.activate(
                maps.astype(np.float64), activation), "max"), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_fused_direct_pooling_on_threads(rng, dtype):
    # Tasks cut along the batch and the channels pool into their own rows of the result.
    x = rng.standard_normal((9, 12, 40)).astype(dtype)
    wt = rng.standard_normal((10, 3, 3)).astype(dtype)
    b = rng.standard_normal(10).astype(dtype)
    want = suite.pool(np.maximum(_maps(x, wt, b), 0), "max")
    for n_threads in (1, 2, 3):
        got = suite.conv_pool(x, wt, b, activation="relu", method="max", variant="parallel",
                              n_threads=n_threads)
        if suite.registry.choose_core(x.shape, wt.shape).name == "DIRECT":
            np.testing.assert_array_equal(got, want)


NARROWER_BUILDS = {"baseline": {"SUITE_NO_AVX2": "1"}, "avx2+fma": {"SUITE_NO_AVX512": "1"}}


@pytest.mark.parametrize("isa", list(NARROWER_BUILDS))
def test_narrower_builds(isa):
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
         os.path.abspath(__file__), "-k", "not narrower_builds"],
        env=env, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
