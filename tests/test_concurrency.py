"""One ``TextCNN`` shared by many request threads gives every call its single-threaded bits.

Threads are released together by a barrier onto fresh models, so the first calls of a
model race each other, and they ask for ever longer sentences, so calls race the growth of
the model's cached positional encoding.  Their ``n_threads`` differ from call to call.
"""
import threading

import numpy as np
import pytest

import suite
from suite.registry import DTYPES

THREADS = 8
MODELS = 20         # fresh models per dtype, each raced from its first call
MAX_LENGTH = 150    # past the 64 and 128 rows the encoding is first built for


def _weights(dtype, d=24):
    rng = np.random.default_rng(11)
    tables = [rng.standard_normal((50, 16)).astype(dtype),
              rng.standard_normal((7, 8)).astype(dtype)]
    banks = [((rng.standard_normal((9, h, d)) / d).astype(dtype),
              rng.standard_normal(9).astype(dtype)) for h in (2, 3, 5)]
    dense = (rng.standard_normal((4, 27)).astype(dtype), rng.standard_normal(4).astype(dtype))
    return tables, banks, dense


def _serve(model, barrier, calls, results, errors, i):
    """Thread ``i``: wait at ``barrier``, then make its ``calls`` on ``model``."""
    try:
        barrier.wait()
        for tokens, lengths, n_threads, method in calls:
            results.append(getattr(model, method)(tokens, lengths, n_threads=n_threads))
    except Exception as error:     # reported by the test, with the thread
        errors.append((i, error))


def _requests(seed):
    """One thread's calls: (tokens, lengths, n_threads, method) with growing lengths."""
    rng = np.random.default_rng(seed)
    calls = []
    for n in sorted(rng.integers(1, MAX_LENGTH + 1, 12)):
        batch = int(rng.integers(1, 4))
        tokens = np.stack([rng.integers(0, 50, (batch, n)), rng.integers(0, 7, (batch, n))], -1)
        lengths = rng.integers(1, n + 1, batch)
        calls.append((tokens, lengths, [1, 2, None][int(rng.integers(3))],
                      ["logits", "features"][int(rng.integers(2))]))
    return calls


@pytest.mark.parametrize("dtype", DTYPES)
def test_threads_on_fresh_models_get_single_threaded_results(dtype):
    weights = _weights(dtype)
    requests = [_requests(seed) for seed in range(THREADS)]
    # What each call gives on its own, in one thread, one call at a time, each on a
    # model of its own (no cache grown by an earlier call).
    expected = [[getattr(suite.TextCNN(*weights), method)(tokens, lengths, n_threads=1)
                 for tokens, lengths, _, method in calls] for calls in requests]
    calls_made = 0
    for _ in range(MODELS):
        model = suite.TextCNN(*weights)
        barrier = threading.Barrier(THREADS)
        results = [[] for _ in range(THREADS)]
        errors = []
        workers = [threading.Thread(target=_serve, args=(model, barrier, requests[i], results[i],
                                                         errors, i))
                   for i in range(THREADS)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        assert not errors, errors
        for i in range(THREADS):
            assert len(results[i]) == len(expected[i])
            for got, want in zip(results[i], expected[i]):
                np.testing.assert_array_equal(got, want)
                calls_made += 1
    assert calls_made == MODELS * THREADS * 12


def test_the_encoding_of_a_position_does_not_depend_on_how_many_were_built():
    # What makes a grown cache give the bits of a fresh one.
    from suite.model import positional_encoding

    for dtype in DTYPES:
        longest = positional_encoding(4096, 382, dtype)
        for n in (1, 7, 63, 64, 65, 129, 1000):
            assert positional_encoding(n, 382, dtype).tobytes() == longest[:n].tobytes()
