"""Bad input gives a clear error; odd but valid input gives the right answer."""
import threading

import numpy as np
import pytest

import suite
from suite import reference
from suite.registry import CONV_POOL, FEATURE_MAP
from assertions import assert_feature_maps_close

X = np.arange(40.0).reshape(5, 8) / 7
W = np.ones((3, 2, 8)) / 5
B = np.array([0.5, -1.0, 2.0])


@pytest.mark.parametrize("x, w, b, words", [
    (np.ones(5), W, B, ["x", "(n, d)", "(5,)"]),
    (np.ones((2, 2, 5, 8)), W, B, ["x", "(2, 2, 5, 8)"]),
    (X, np.ones((2, 8)), None, ["weights", "(channels, h, w)", "(2, 8)"]),
    (X, np.ones((3, 6, 8)), None, ["h <= n", "(3, 6, 8)", "(5, 8)"]),
    (X, np.ones((3, 2, 9)), None, ["w <= d", "(3, 2, 9)", "(5, 8)"]),
    (X, np.ones((3, 0, 8)), None, ["weights", "1x1"]),
    (X, W, np.ones(2), ["bias", "(3,)", "(2,)"]),
    (X, W, np.ones((3, 1)), ["bias", "(3, 1)"]),
])
def test_bad_shapes(x, w, b, words):
    for call in (lambda: suite.feature_map(x, w, b), lambda: suite.conv_pool(x, w, b)):
        with pytest.raises(ValueError) as info:
            call()
        for word in words:
            assert word in str(info.value)


@pytest.mark.parametrize("kwargs, words", [
    ({"variant": "fastest"}, ["variant", "'fastest'", "loops", "blas", "auto"]),
    ({"n_threads": 0}, ["n_threads"]),
])
def test_bad_feature_map_options(kwargs, words):
    with pytest.raises(ValueError) as info:
        suite.feature_map(X, W, B, **kwargs)
    for word in words:
        assert word in str(info.value)


@pytest.mark.parametrize("kwargs, words", [
    ({"method": "median"}, ["method", "'median'", "kmax", "chunk_max"]),
    ({"method": "kmax"}, ["k"]),
    ({"method": "kmax", "k": 0}, ["k=0", "4 positions"]),
    ({"method": "kmax", "k": 5}, ["k=5", "4 positions"]),
    ({"method": "chunk_max", "chunks": 0}, ["chunks=0"]),
    ({"method": "chunk_max", "chunks": 5}, ["chunks=5", "4 positions"]),
    ({"method": "max", "k": 2}, ["k is only used"]),
    ({"method": "kmax", "k": 2, "chunks": 2}, ["chunks is only used"]),
])
def test_bad_pool_options(kwargs, words):
    fmap = suite.feature_map(X, W, B)  # (3, 4, 1): 4 positions
    for call in (lambda: suite.pool(fmap, **kwargs), lambda: suite.conv_pool(X, W, B, **kwargs)):
        with pytest.raises(ValueError) as info:
            call()
        for word in words:
            assert word in str(info.value)


def test_bad_activation():
    with pytest.raises(ValueError, match=r"activation 'gelu'.*relu.*selu"):
        suite.conv_pool(X, W, B, activation="gelu")


def test_pool_needs_positions():
    with pytest.raises(ValueError, match="fmap"):
        suite.pool(np.ones((3, 4)))
    with pytest.raises(ValueError, match="no positions"):
        suite.pool(np.ones((3, 0, 1)))


@pytest.mark.parametrize("bad", [
    X.astype(complex), X > 0, X.astype(object), np.full((5, 8), "a"),
])
def test_bad_dtypes(bad):
    with pytest.raises(TypeError, match="x must hold real numbers"):
        suite.feature_map(bad, W)
    with pytest.raises(TypeError, match="weights must hold real numbers"):
        suite.feature_map(X, W.astype(bad.dtype) if bad.dtype != "<U1" else np.full(W.shape, "a"))
    with pytest.raises(TypeError, match="fmap must hold real numbers"):
        suite.pool(bad[None])


@pytest.mark.parametrize("variant", list(FEATURE_MAP))
def test_empty_batch_and_channels(variant):
    assert suite.feature_map(np.ones((0, 5, 8)), W, variant=variant).shape == (0, 3, 4, 1)
    assert suite.feature_map(X, np.ones((0, 2, 8)), variant=variant).shape == (0, 4, 1)
    assert suite.conv_pool(np.ones((0, 5, 8)), W, variant=variant).shape == (0, 3)
    assert suite.conv_pool(X, np.ones((0, 2, 8)), method="kmax", k=2,
                           variant=variant).shape == (0, 2)
    assert suite.pool(np.ones((0, 3, 4, 1)), "chunk_max", chunks=2).shape == (0, 3, 2)


def _layouts(a):
    """The same values as C-, Fortran-, negatively strided, sliced and read-only arrays."""
    fortran = np.asfortranarray(a)
    reversed_ = a[..., ::-1].copy()[..., ::-1]
    padded = np.zeros(a.shape[:-1] + (2 * a.shape[-1],))
    padded[..., ::2] = a
    frozen = a.copy()
    frozen.flags.writeable = False
    return {"C": a, "F": fortran, "negative strides": reversed_,
            "strided": padded[..., ::2], "read-only": frozen}


@pytest.mark.parametrize("layout", ["C", "F", "negative strides", "strided", "read-only"])
@pytest.mark.parametrize("variant", list(FEATURE_MAP))
def test_layouts(rng, variant, layout):
    x = rng.standard_normal((2, 7, 10))
    w = rng.standard_normal((3, 3, 4))
    b = rng.standard_normal(3)
    xl, wl, bl = (_layouts(a)[layout] for a in (x, w, b))
    copies = [a.copy() for a in (xl, wl, bl)]
    out = suite.feature_map(xl, wl, bl, variant=variant)
    assert_feature_maps_close(out, x, w, b)
    reference.assert_close(suite.pool(_layouts(out)[layout], "kmax", k=3),
                           reference.pool(out, "kmax", k=3), "float64")
    reference.assert_close(suite.conv_pool(xl, wl, bl, variant=variant),
                           reference.conv_pool(x, w, b), "float64")
    for before, after in zip(copies, (xl, wl, bl)):  # inputs are never modified
        np.testing.assert_array_equal(before, after)


@pytest.mark.parametrize("variant", list(CONV_POOL))
def test_inputs_not_modified(rng, variant):
    x, w, b = rng.standard_normal((3, 6, 5)), rng.standard_normal((2, 2, 3)), np.ones(2)
    fmap = suite.feature_map(x, w, b, variant=variant)
    saved = [a.copy() for a in (x, w, b, fmap)]
    suite.conv_pool(x, w, b, activation="tanh", method="avg", variant=variant)
    for method in ("max", "avg", "kmax", "chunk_max"):
        suite.pool(fmap, method, **({"k": 3} if method == "kmax" else
                                    {"chunks": 2} if method == "chunk_max" else {}))
    for before, after in zip(saved, (x, w, b, fmap)):
        np.testing.assert_array_equal(before, after)


@pytest.mark.parametrize("variant", list(FEATURE_MAP))
def test_nan_and_inf_propagate(variant):
    x = np.ones((2, 6, 4))
    x[0, 2, 1] = np.nan
    x[1, 4, 3] = np.inf
    w = np.ones((2, 2, 3))
    w[1] = -1
    out = suite.feature_map(x, w, variant=variant)
    expected = reference.feature_map(x, w)
    np.testing.assert_array_equal(out, expected)   # small integers: exact in every order
    # Each bad value reaches 2 rows x (2 or 1) columns of windows, in both channels.
    assert np.isnan(out[0]).sum() == 2 * (2 * 2) and np.isinf(out[1]).sum() == 2 * (2 * 1)
    pooled = suite.conv_pool(x, w, variant=variant)
    assert np.isnan(pooled[0]).all()
    np.testing.assert_array_equal(pooled[1], [np.inf, -6.0])


@pytest.mark.parametrize("variant", list(CONV_POOL))
@pytest.mark.parametrize("activation", ["identity", "tanh"])
def test_all_below_minus_100_pools_exactly(variant, activation):
    # Every feature lies far below the production kernel's -100 start value.
    x = np.full((2, 6, 4), 10.0)
    w = np.full((3, 2, 4), -10.0)
    b = np.array([-5.0, -50.0, -500.0])
    out = suite.conv_pool(x, w, b, activation=activation, variant=variant)
    expected = reference.conv_pool(x, w, b, activation=activation)
    np.testing.assert_array_equal(out, expected)
    if activation == "identity":
        np.testing.assert_array_equal(out[0], [-805.0, -850.0, -1300.0])


@pytest.mark.parametrize("variant", list(FEATURE_MAP))
def test_concurrent_calls_agree(rng, variant):
    x, w, b = rng.standard_normal((8, 20, 30)), rng.standard_normal((16, 3, 30)), np.ones(16)
    expected = suite.feature_map(x, w, b, variant=variant, n_threads=1)
    pooled = suite.conv_pool(x, w, b, method="kmax", k=3, variant=variant, n_threads=1)
    results, errors = [], []

    def work():
        try:
            for _ in range(5):
                results.append((suite.feature_map(x, w, b, variant=variant, n_threads=2),
                                suite.conv_pool(x, w, b, method="kmax", k=3, variant=variant,
                                                n_threads=2)))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(results) == 20
    for fmap, pool in results:
        np.testing.assert_array_equal(fmap, expected)
        np.testing.assert_array_equal(pool, pooled)


@pytest.mark.parametrize("variant, d, w", [
    ("loops", 12, 3), ("loops", 300, 300), ("loops", 12, 9),
    # direct: rows of at least 8 outputs, a vector of float64 in every build.
    ("direct", 12, 3), ("direct", 40, 5), ("direct", 40, 16), ("direct", 64, 9)])
def test_sums_in_the_reference_order_overflow_where_it_does(variant, d, w):
    # 1e308 + 1e308 - 1e308 is inf in the reference's order (tap by tap from zero) and
    # 1e308 in most others.  loops keeps the order everywhere, direct on rows of at least
    # a vector of outputs (README, "Every variant computes ...").
    x = np.zeros((3, d))
    x[:, :4] = [1e308, 1e308, -1e308, 0.0]
    weights = np.ones((2, 1, w))
    expected = reference.feature_map(x, weights)
    assert np.isinf(expected[:, :, 0]).all()
    np.testing.assert_array_equal(suite.feature_map(x, weights, variant=variant), expected)
