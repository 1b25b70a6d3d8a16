"""One check for ``n_threads``, ``k``, ``chunks`` and ids, the same in every variant and the
classifier."""
import numpy as np
import pytest

import suite
from suite._arguments import MAX_THREADS
from suite.registry import CONV_POOL, FEATURE_MAP

RNG = np.random.default_rng(7)
X = RNG.standard_normal((2, 9, 12))
W = RNG.standard_normal((5, 3, 12))
B = RNG.standard_normal(5)

NOT_INTEGERS = [2.5, 2.0, np.float64(2.0), "2", True, np.True_, np.array(2), np.array([2]),
                [2], (2,), 2 + 0j, object()]

def _id(value):
    """A test id that is the same in every pytest-xdist worker (no addresses)."""
    return "object" if type(value) is object else f"{type(value).__name__}-{value}"


HUGE_THREADS = [2 ** 40, np.int64(2 ** 62), np.uint64(2 ** 64 - 1), MAX_THREADS + 1]


def _calls(pooling=False, **kwargs):
    """``conv_pool`` and, unless ``pooling``, ``feature_map`` with ``kwargs``, in every variant."""
    calls = {} if pooling else {
        f"feature_map[{v}]": (lambda v=v: suite.feature_map(X, W, B, variant=v, **kwargs))
        for v in FEATURE_MAP}
    calls.update({f"conv_pool[{v}]": (lambda v=v: suite.conv_pool(X, W, B, variant=v,
                                                                  **kwargs))
                  for v in CONV_POOL})
    return calls


def _model(dtype="float64"):
    rng = np.random.default_rng(3)
    return suite.TextCNN([rng.standard_normal((40, 6)).astype(dtype),
                          rng.standard_normal((5, 2)).astype(dtype)],
                         [(rng.standard_normal((4, h, 8)).astype(dtype),
                           rng.standard_normal(4).astype(dtype)) for h in (2, 3)],
                         (rng.standard_normal((3, 8)).astype(dtype),
                          rng.standard_normal(3).astype(dtype)))


TOKENS = np.array([[[3, 1], [7, 4], [39, 0], [0, 2]], [[5, 0], [8, 1], [0, 0], [0, 0]]])


@pytest.mark.parametrize("bad", NOT_INTEGERS, ids=_id)
def test_n_threads_must_be_an_integer_everywhere(bad):
    model = _model()
    calls = _calls(n_threads=bad)
    calls["TextCNN.logits"] = lambda: model.logits(TOKENS, [4, 2], n_threads=bad)
    for name, call in calls.items():
        with pytest.raises(TypeError, match="n_threads must be an integer") as info:
            call()
        assert type(bad).__name__ in str(info.value), name


@pytest.mark.parametrize("bad", [0, -1, np.int8(-3), -2 ** 70])
def test_n_threads_below_one_is_refused_everywhere(bad):
    model = _model()
    calls = _calls(n_threads=bad)
    calls["TextCNN.logits"] = lambda: model.logits(TOKENS, [4, 2], n_threads=bad)
    for call in calls.values():
        with pytest.raises(ValueError, match="n_threads must be at least 1"):
            call()


@pytest.mark.parametrize("huge", HUGE_THREADS, ids=_id)
def test_any_positive_n_threads_is_safe_everywhere(huge):
    # Before: 2**40 worked with auto and overflowed a C int with variant="parallel".
    expected = {name: call() for name, call in _calls(n_threads=1).items()}
    for name, call in _calls(n_threads=huge).items():
        np.testing.assert_array_equal(call(), expected[name], err_msg=name)
    model = _model()
    np.testing.assert_array_equal(model.logits(TOKENS, [4, 2], n_threads=huge),
                                  model.logits(TOKENS, [4, 2], n_threads=1))


@pytest.mark.parametrize("name, method", [("k", "kmax"), ("chunks", "chunk_max")])
@pytest.mark.parametrize("bad", NOT_INTEGERS, ids=_id)
def test_k_and_chunks_must_be_integers(name, method, bad):
    fmap = suite.feature_map(X, W, B)
    calls = {"pool": lambda: suite.pool(fmap, method, **{name: bad})}
    calls.update(_calls(pooling=True, method=method, **{name: bad}))
    for call in calls.values():
        with pytest.raises(TypeError, match=f"^{name} must be an integer, got "
                                            f"{type(bad).__name__}"):
            call()


@pytest.mark.parametrize("good", [2, np.int8(2), np.uint64(2), np.intp(2)], ids=_id)
def test_numpy_integers_are_integers(good):
    fmap = suite.feature_map(X, W, B)
    np.testing.assert_array_equal(suite.pool(fmap, "kmax", k=good), suite.pool(fmap, "kmax", k=2))
    np.testing.assert_array_equal(suite.conv_pool(X, W, B, method="chunk_max", chunks=good,
                                                  n_threads=good),
                                  suite.conv_pool(X, W, B, method="chunk_max", chunks=2))


def test_model_options_are_checked():
    rng = np.random.default_rng(0)
    weights = ([rng.standard_normal((6, 4))] * 4, [(rng.standard_normal((2, 2, 16)), np.zeros(2))],
               (rng.standard_normal((3, 2)), np.zeros(3)))
    with pytest.raises(TypeError, match=r"columns\[1\] must be an integer, got float 0.5"):
        suite.TextCNN(*weights, columns=[0, .5, 1, 2])
    with pytest.raises(TypeError, match=r"columns\[0\] must be an integer, got bool"):
        suite.TextCNN(*weights, columns=[True, 0, 1, 2])
    with pytest.raises(ValueError, match="each from 0 to 1023"):   # what a file may hold
        suite.TextCNN(*weights, columns=[0, 0, 1, 1024])
    with pytest.raises(TypeError, match="positional must be a bool, got str 'False'"):
        suite.TextCNN(*weights, positional="False")
    assert suite.TextCNN(*weights, positional=np.False_).positional is False


def test_an_unsigned_id_past_intp_is_reported_as_given():
    model = _model()
    tokens = TOKENS.astype(np.uint64)
    tokens[1, 1, 1] = 2 ** 63 + 5
    with pytest.raises(ValueError, match=r"tokens: id 9223372036854775813 at position 1 of "
                                         r"sentence 1 is out of range for embeddings\[1\]"):
        model.logits(tokens, [4, 2])
    tokens[1, 1, 1] = 1
    tokens[1, 3] = 2 ** 64 - 1                   # past the length: never read
    np.testing.assert_array_equal(model.logits(tokens, [4, 2]), model.logits(TOKENS, [4, 2]))
    with pytest.raises(ValueError, match="got 18446744073709551615 for sentence 0"):
        model.logits(tokens, np.array([2 ** 64 - 1, 2], np.uint64))
