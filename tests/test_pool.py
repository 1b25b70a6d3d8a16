"""Every pooling kernel and every fused conv_pool variant against the NumPy reference."""
import shutil
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import suite
from asv_clone import BESIDE_ASV_ENV
from suite import reference
from suite.registry import ACTIVATIONS, CONV_POOL, DTYPES, POOL

METHODS = list(POOL)


def _params(method, positions):
    """Pooling arguments for `method` that are valid for `positions` positions."""
    if method == "kmax":
        return {"k": min(3, positions)}
    if method == "chunk_max":
        return {"chunks": min(4, positions)}
    return {}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("shape", [(3, 7, 1), (2, 4, 9, 1), (5, 3, 4), (1, 1, 1), (2, 3, 61, 1)])
def test_pool(rng, method, dtype, shape):
    fmap = rng.standard_normal(shape).astype(dtype)
    kw = _params(method, shape[-1] * shape[-2])
    out = suite.pool(fmap, method, **kw)
    expected = reference.pool(fmap, method, **kw)
    assert out.dtype == dtype
    reference.assert_close(out, expected, dtype)   # avg rounds its sum; the rest is exact


@pytest.mark.parametrize("method", METHODS)
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_pool_random(method, data):
    # Small integers make ties frequent; NaN and inf are in the mix.
    elements = st.one_of(st.integers(-3, 3).map(float),
                         st.sampled_from([np.nan, np.inf, -np.inf, -1e300]))
    fmap = data.draw(hnp.arrays(np.float64, hnp.array_shapes(min_dims=3, max_dims=4,
                                                             max_side=6), elements=elements))
    positions = fmap.shape[-1] * fmap.shape[-2]
    kw = {}
    if method == "kmax":
        kw = {"k": data.draw(st.integers(1, positions))}
    if method == "chunk_max":
        kw = {"chunks": data.draw(st.integers(1, positions))}
    with np.errstate(invalid="ignore"):
        expected = reference.pool(fmap, method, **kw)
    np.testing.assert_array_equal(suite.pool(fmap, method, **kw), expected)


def test_kmax_keeps_order_and_earlier_ties():
    fmap = np.array([1.0, 5.0, 3.0, 5.0, 2.0, 3.0])[None, :, None]
    np.testing.assert_array_equal(suite.pool(fmap, "kmax", k=3), [[5.0, 3.0, 5.0]])
    np.testing.assert_array_equal(suite.pool(fmap, "kmax", k=4), [[5.0, 3.0, 5.0, 3.0]])
    ties = np.zeros((1, 5, 1))
    ties[0, 2, 0] = -0.0
    np.testing.assert_array_equal(suite.pool(ties, "kmax", k=2), [[0.0, 0.0]])


def _long_rows(rng, n):
    """Rows that reach every path of k-max pooling: orders, ties, signed zeros, NaN."""
    ascending = np.arange(n, dtype=np.float64)
    ties = rng.integers(-3, 4, n).astype(np.float64)
    zeros = np.where(rng.random(n) < 0.5, 0.0, -0.0)
    some_nan = rng.standard_normal(n)
    some_nan[rng.random(n) < 0.05] = np.nan
    mostly_nan = np.where(rng.random(n) < 0.9, np.nan, ties)
    organ_pipe = np.concatenate([ascending[: n // 2], ascending[n - n // 2 - 1::-1]])
    return np.stack([ascending, ascending[::-1], ties, zeros, some_nan, mostly_nan,
                     organ_pipe, np.full(n, np.inf), rng.standard_normal(n)])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("k", [1, 2, 31, 32, 33, 100, 499, 999, 1000])
def test_kmax_long_rows_and_large_k(rng, dtype, k):
    # Small k selects with a heap, large k with a quickselect; both keep the tie rule.
    rows = _long_rows(rng, 1000).astype(dtype)
    fmap = rows[:, :, None, None].reshape(1, rows.shape[0], 40, 25)
    with np.errstate(invalid="ignore"):
        expected = reference.pool(fmap, "kmax", k=k)
    np.testing.assert_array_equal(suite.pool(fmap, "kmax", k=k), expected)
    # The fused path pools the same rows: an identity filter of 1 x 1 over (40, 25).
    x = rows.reshape(rows.shape[0], 40, 25)
    np.testing.assert_array_equal(
        suite.conv_pool(x, np.ones((1, 1, 1), dtype), method="kmax", k=k)[:, 0],
        expected[0])


def _select_descending(a, r):
    """``select_descending`` of ``pyx/suite/_pool.pyx``, step for step: False when it
    gives up (its partitions went deeper than 2 log2(m)) and k-max takes the heap."""
    m = len(a)
    lo, hi, depth = 0, m - 1, 2
    while (1 << depth) < m and depth < 62:
        depth += 1
    depth *= 2
    while hi > lo:
        if depth == 0:
            return False
        depth -= 1
        mid = lo + (hi - lo) // 2
        x, y, z = a[lo], a[mid], a[hi]
        if x < y:
            x, y = y, x
        if y < z:
            y = z if x > z else x
        pivot = y
        i, j = lo, hi
        while i <= j:
            while a[i] > pivot:
                i += 1
            while a[j] < pivot:
                j -= 1
            if i <= j:
                a[i], a[j] = a[j], a[i]
                i, j = i + 1, j - 1
        if r <= j:
            hi = j
        elif r >= i:
            lo = i
        else:
            break
    return True


def _quickselect_killer(n, r):
    """A row on which the quickselect degenerates: McIlroy's adversary (1999), which
    decides each value only when a comparison needs it, against ``_select_descending``."""
    gas = n
    values = [gas] * n
    solid = [0, None]          # values frozen so far, the current pivot candidate

    def compare(x, y):
        if values[x] == gas and values[y] == gas:
            values[x if x == solid[1] else y] = solid[0]
            solid[0] += 1
        if values[x] == gas:
            solid[1] = x
        elif values[y] == gas:
            solid[1] = y
        return values[x] - values[y]

    class Item:
        def __init__(self, i):
            self.i = i

        def __lt__(self, other):
            return compare(self.i, other.i) < 0

        def __gt__(self, other):
            return compare(self.i, other.i) > 0

    _select_descending([Item(i) for i in range(n)], r)
    return np.array(values, dtype=np.float64)


@pytest.mark.parametrize("dtype", DTYPES)
def test_kmax_when_the_quickselect_degenerates(dtype):
    # The heap takes over: same result, O(n log k) still.
    n, k = 2000, 700
    row = _quickselect_killer(n, k - 1)
    assert not _select_descending(list(row), k - 1)     # the kernel gives up on it too
    fmap = row.astype(dtype).reshape(1, 1, 40, 50)
    np.testing.assert_array_equal(suite.pool(fmap, "kmax", k=k),
                                  reference.pool(fmap, "kmax", k=k))


def test_chunk_max_splits_as_array_split():
    fmap = np.arange(7.0)[None, :, None]
    np.testing.assert_array_equal(suite.pool(fmap, "chunk_max", chunks=3), [[2.0, 4.0, 6.0]])


@pytest.mark.parametrize("method", METHODS)
def test_pool_nan_propagates(method):
    fmap = np.arange(12.0).reshape(2, 6, 1)
    fmap[0, 4, 0] = np.nan
    kw = _params(method, 6)
    out = suite.pool(fmap, method, **kw)
    assert np.isnan(out[0]).any() and not np.isnan(out[1]).any()
    np.testing.assert_array_equal(out, reference.pool(fmap, method, **kw))


@pytest.mark.parametrize("method", METHODS)
def test_pool_below_sentinel_is_exact(method):
    # The production kernel started its running max at -100; these all lie below it.
    fmap = -1000.0 - np.arange(10.0).reshape(2, 5, 1)
    kw = _params(method, 5)
    np.testing.assert_array_equal(suite.pool(fmap, method, **kw),
                                  reference.pool(fmap, method, **kw))
    assert suite.pool(fmap, method, **kw).max() < -100


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("activation", list(ACTIVATIONS))
@pytest.mark.parametrize("variant", list(CONV_POOL))
def test_conv_pool(rng, variant, activation, method, dtype):
    x = rng.standard_normal((3, 9, 12)).astype(dtype)
    w = rng.standard_normal((4, 3, 12)).astype(dtype)
    b = rng.standard_normal(4).astype(dtype)
    kw = _params(method, 7)
    out = suite.conv_pool(x, w, b, activation=activation, method=method, variant=variant, **kw)
    expected = reference.conv_pool(x.astype(float), w.astype(float), b.astype(float),
                                   activation=activation, method=method, **kw)
    assert out.dtype == dtype
    reference.assert_close(out, expected, dtype)
    single = suite.conv_pool(x[0], w, b, activation=activation, method=method,
                             variant=variant, **kw)
    reference.assert_close(single, expected[0], dtype)


@pytest.mark.parametrize("variant", list(CONV_POOL))
@settings(max_examples=25, deadline=None)
@given(batch=st.integers(1, 40), n=st.integers(1, 10), d=st.integers(1, 10),
       channels=st.integers(1, 6), data=st.data())
def test_conv_pool_random(variant, batch, n, d, channels, data):
    h, w = data.draw(st.integers(1, n)), data.draw(st.integers(1, d))
    method = data.draw(st.sampled_from(METHODS))
    activation = data.draw(st.sampled_from(list(ACTIVATIONS)))
    kw = _params(method, (n - h + 1) * (d - w + 1))
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    x, wt = rng.standard_normal((batch, n, d)), rng.standard_normal((channels, h, w))
    b = rng.standard_normal(channels)
    reference.assert_close(
        suite.conv_pool(x, wt, b, activation=activation, method=method, variant=variant, **kw),
        reference.conv_pool(x, wt, b, activation=activation, method=method, **kw), "float64")


@pytest.mark.parametrize("variant", list(CONV_POOL))
def test_conv_pool_threads(rng, variant):
    x, w, b = rng.standard_normal((9, 10, 8)), rng.standard_normal((5, 2, 8)), np.zeros(5)
    expected = reference.conv_pool(x, w, b, activation="selu", method="kmax", k=2)
    for n_threads in (1, 2, 3):
        out = suite.conv_pool(x, w, b, activation="selu", method="kmax", k=2,
                              variant=variant, n_threads=n_threads)
        reference.assert_close(out, expected, "float64")


#: k-max pooling's work is counted on rows of KMAX_N positions, with k = KMAX_K.
KMAX_N, KMAX_K = 40000, 20000
KMAX_ORDERS = ["ascending", "random", "degenerate"]


@pytest.fixture(scope="module")
def kmax_instructions(tmp_path_factory):
    """``{order: instructions}``: one k-max call on each row, counted under callgrind.

    All in one valgrind process (starting Python and NumPy under callgrind is most of its
    time), which writes each counted call's profile to a part of its own (``--dump-after``).
    """
    n, k = KMAX_N, KMAX_K
    rows = {"ascending": lambda: np.arange(n, dtype=np.float64),
            "random": lambda: np.random.default_rng(0).standard_normal(n),
            "degenerate": lambda: _quickselect_killer(n, k - 1)}
    work = tmp_path_factory.mktemp("kmax")
    for order in KMAX_ORDERS:
        np.save(work / f"{order}.npy", rows[order]())
    script = (
        "import numpy as np, suite\n"
        "from suite._callgrind import counted\n"
        f"for order in {KMAX_ORDERS!r}:\n"
        "    fmap = np.load(order + '.npy').reshape(1, 1, 1, -1)\n"
        f"    suite.pool(fmap, 'kmax', k={k})\n"
        f"    counted(lambda: suite.pool(fmap, 'kmax', k={k}))\n")
    region = "textcnn_suite_counted_region"
    subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=callgrind.out",
                    f"--toggle-collect={region}", f"--dump-after={region}", sys.executable,
                    "-c", script], cwd=work, check=True, capture_output=True, timeout=900)
    counts = {}
    for i, order in enumerate(KMAX_ORDERS, 1):
        totals = [line for line in (work / f"callgrind.out.{i}").read_text().splitlines()
                  if line.startswith(("summary:", "totals:"))]
        counts[order] = int(totals[-1].split()[1])
    assert not (work / f"callgrind.out.{len(KMAX_ORDERS) + 1}").exists()
    return counts


@pytest.mark.gate
@pytest.mark.skipif(shutil.which("valgrind") is None, reason="valgrind is not installed")
@pytest.mark.xdist_group(BESIDE_ASV_ENV)   # one worker, and so one count: the fixture's
@pytest.mark.parametrize("order", KMAX_ORDERS)
def test_kmax_work_grows_as_n_log_k(kmax_instructions, order):
    # Counted, not timed: the instructions of one k-max call on a long map with a large
    # k.  A scan that keeps the best k sorted by insertion executes about n k / 2 moves on
    # the ascending row (some 10**9 instructions here); the selection stays far below a
    # budget of 100 instructions per position and level of the heap, also on a row that
    # makes the quickselect give up.
    n, k = KMAX_N, KMAX_K
    instructions = kmax_instructions[order]
    assert 0 < instructions < 100 * n * np.log2(k), instructions
