"""Every registered feature-map variant, in both dtypes, against scipy.signal.correlate2d."""
import os
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import suite
from suite.registry import DTYPES, FEATURE_MAP
from assertions import assert_feature_maps_close

VARIANTS = list(FEATURE_MAP)

# (batch or None for an unbatched x, n, d, channels, h, w): the edges of the loop nests.
EDGE_SHAPES = {
    "h=1": (None, 7, 9, 3, 1, 4),
    "w=1": (None, 7, 9, 3, 2, 1),
    "h=n": (None, 5, 9, 3, 5, 4),
    "w=d full width even": (None, 12, 10, 4, 3, 10),
    "w=d full width odd": (None, 12, 11, 4, 3, 11),
    "h=n, w=d": (None, 4, 6, 2, 4, 6),
    "1x1 filter": (None, 3, 3, 2, 1, 1),
    "even w": (2, 9, 12, 3, 2, 6),
    "odd w": (2, 9, 12, 3, 2, 7),
    "one channel": (2, 8, 10, 1, 3, 10),
    "batch of one": (1, 8, 10, 5, 3, 10),
    "batch across GEMM slices": (70, 9, 12, 5, 3, 12),
    "text-CNN": (3, 20, 50, 16, 4, 50),
    # Rows of several vectors of outputs, then single vectors, then one ending at the
    # row's end; a block of 2 channels left over (the direct kernel's paths).
    "small 2-D filters, long rows": (2, 10, 70, 6, 3, 5),
    "small 2-D filters, 1.5 vectors": (None, 6, 28, 5, 2, 3),
    # Sentence (37 x 35) and maps (35 windows x 33 channels) of whole 16 x 16 and 8 x 8
    # blocks and edges: the packed core's transpositions.
    "full width, blocks and edges": (2, 37, 35, 33, 3, 35),
}


def _inputs(rng, batch, n, d, channels, h, w, dtype):
    x_shape = (n, d) if batch is None else (batch, n, d)
    return (rng.standard_normal(x_shape).astype(dtype),
            rng.standard_normal((channels, h, w)).astype(dtype),
            rng.standard_normal(channels).astype(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("shape", list(EDGE_SHAPES.values()), ids=list(EDGE_SHAPES))
def test_edge_shapes(rng, variant, dtype, shape):
    x, w, b = _inputs(rng, *shape, dtype)
    out = suite.feature_map(x, w, b, variant=variant)
    assert out.dtype == dtype
    assert_feature_maps_close(out, x, w, b)


@st.composite
def problems(draw):
    n = draw(st.integers(1, 12))
    d = draw(st.integers(1, 14))
    return (draw(st.one_of(st.none(), st.integers(1, 4))), n, d, draw(st.integers(1, 5)),
            draw(st.integers(1, n)), draw(st.integers(1, d)))


@pytest.mark.parametrize("variant", VARIANTS)
@settings(max_examples=40, deadline=None)
@given(shape=problems(), dtype=st.sampled_from(DTYPES), seed=st.integers(0, 2**32 - 1))
def test_random_shapes(variant, shape, dtype, seed):
    x, w, b = _inputs(np.random.default_rng(seed), *shape, dtype)
    assert_feature_maps_close(suite.feature_map(x, w, b, variant=variant), x, w, b)


@pytest.mark.parametrize("variant", VARIANTS)
def test_threads(rng, variant):
    x, w, b = _inputs(rng, 5, 12, 20, 7, 3, 20, "float64")
    for n_threads in (1, 2, 3):
        out = suite.feature_map(x, w, b, variant=variant, n_threads=n_threads)
        assert_feature_maps_close(out, x, w, b)


def test_fft_reference_agrees(rng):
    x, w, b = _inputs(rng, 2, 9, 11, 3, 2, 4, "float64")
    suite.reference.assert_close(suite.reference.feature_map_fft(x, w, b),
                                 suite.reference.feature_map(x, w, b), "float64")
    suite.reference.assert_close(suite.reference.feature_map_fft(x[0], w, b),
                                 suite.reference.feature_map(x[0], w, b), "float64")


def test_no_bias_is_zero_bias(rng):
    x, w, _ = _inputs(rng, None, 6, 8, 3, 2, 8, "float64")
    np.testing.assert_array_equal(suite.feature_map(x, w), suite.feature_map(x, w, np.zeros(3)))


@pytest.mark.parametrize("x_dtype, w_dtype, b_dtype, expected", [
    ("float32", "float32", "float32", "float32"),
    ("float32", "float32", None, "float32"),
    ("float32", "float64", "float32", "float64"),
    ("float64", "float32", "float32", "float64"),
    ("float32", "float32", "float64", "float64"),
    ("int64", "int64", None, "float64"),
    ("int32", "float32", "float32", "float64"),
    ("uint8", "float64", "int16", "float64"),
    ("float16", "float32", None, "float64"),
])
def test_result_dtype(x_dtype, w_dtype, b_dtype, expected):
    x = np.arange(30).reshape(5, 6).astype(x_dtype)
    w = np.ones((2, 2, 6), w_dtype)
    b = None if b_dtype is None else np.ones(2, b_dtype)
    out = suite.feature_map(x, w, b)
    assert out.dtype == expected
    assert_feature_maps_close(out, x, w, b)


def test_rule_picks_the_core_by_filter_width():
    from suite._conv import Core
    from suite.registry import CONV_POOL, choose_feature_map
    full, narrow = ((1, 64, 300), (100, 3, 300)), ((1, 64, 300), (100, 3, 299))
    small = ((1, 128, 128), (16, 5, 5))
    assert choose_feature_map(*full, 1) == "tiles"
    assert choose_feature_map(*narrow, 1) == "simd"
    assert choose_feature_map(*small, 1) == "direct"
    # Small filters on short rows: direct from one vector of the dtype, blas below it; a
    # wide filter on as short a row keeps simd.
    # (Not in the baseline build, whose rows of fewer than DIRECT_MIN_POSITIONS stay blas.)
    for itemsize in (4, 8):
        lanes = suite._runtime.VECTOR_BYTES // itemsize
        short, one_vector = (1, 20, lanes + 1), (1, 20, lanes + 2)
        if suite._runtime.VECTOR_BYTES < 32:
            short = one_vector = (1, 20, 20)
        assert choose_feature_map(short, (16, 3, 3), 1, itemsize) == "blas"
        assert choose_feature_map(one_vector, (16, 3, 3), 1, itemsize) == (
            "direct" if suite._runtime.VECTOR_BYTES >= 32 else "blas")
        for table in (FEATURE_MAP, CONV_POOL):
            assert table["auto"].pick(short, (16, 3, 3), 1, itemsize)[0] == Core.BLAS
            assert table["auto"].pick(one_vector, (16, 3, 3), 1, itemsize)[0] == (
                Core.DIRECT if suite._runtime.VECTOR_BYTES >= 32 else Core.BLAS)
    assert choose_feature_map((1, 20, 40), (16, 3, 18), 1) == "simd"
    assert choose_feature_map((64, 64, 300), (100, 3, 300), 2) == "parallel"
    for table in (FEATURE_MAP, CONV_POOL):
        assert table["auto"].pick(*full, 1) == (Core.TILES, 1)
        assert table["auto"].pick(*narrow, 1) == (Core.SIMD, 1)
        assert table["auto"].pick(*small, 1) == (Core.DIRECT, 1)
        assert table["parallel"].pick(*full, 2) == (Core.TILES, 2)
        assert table["parallel"].pick(*narrow, 2) == (Core.SIMD, 2)
        assert table["parallel"].pick(*small, 2) == (Core.DIRECT, 2)


@pytest.mark.parametrize("cap", [None, "SUITE_NO_AVX512"])
def test_batches_of_full_width_filters_take_the_packed_core_with_avx512(cap):
    # In a process of its own: the build is chosen at import.  Batches of long enough
    # sentences run the packed core in the AVX-512 build alone; one sentence, short
    # sentences and the other builds keep the tiles.
    code = ("import suite, suite._runtime as r; from suite.registry import choose_core as c\n"
            "print(r.VECTOR_BYTES, c((64, 64, 300), (100, 3, 300)).name, "
            "c((2, 22, 300), (100, 3, 300)).name, c((1, 64, 300), (100, 3, 300)).name, "
            "c((8, 16, 300), (100, 3, 300)).name)")
    env = dict(os.environ)
    if cap:
        env[cap] = "1"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                         text=True, check=True).stdout.split()
    batch = "PACKED" if out[0] == "64" else "TILES"
    assert out[1:] == [batch, batch, "TILES", "TILES"], out
