"""``suite.TextCNN`` against ``suite.reference.text_cnn``, its padding, its files and its errors."""
import numpy as np
import pytest

import suite
from suite import reference
from suite.model import pack_filters, positional_encoding
from suite.registry import ACTIVATIONS, DTYPES

COLUMNS = [0, 0, 1, 2]   # GloVe and task-local vectors share the word column


def _weights(rng, dtype, heights=(2, 3, 4, 5), channels=7, classes=4,
             tables=((60, 10), (60, 4), (6, 3), (8, 3))):
    d = sum(dim for _, dim in tables)
    embeddings = [rng.standard_normal(shape).astype(dtype) for shape in tables]
    filters = [((rng.standard_normal((channels, h, d)) / np.sqrt(h * d)).astype(dtype),
                rng.standard_normal(channels).astype(dtype)) for h in heights]
    classifier = (rng.standard_normal((classes, channels * len(heights))).astype(dtype),
                  rng.standard_normal(classes).astype(dtype))
    return embeddings, filters, classifier


def _tokens(rng, batch, n, lengths, vocabs=(60, 6, 8)):
    tokens = np.stack([rng.integers(0, v, (batch, n)) for v in vocabs], axis=-1)
    # Past a sentence's length the ids are garbage, out of every table's range.
    tokens[np.arange(n)[None, :] >= np.asarray(lengths)[:, None]] = 10 ** 9
    return tokens


def _assert_close(got, want, dtype):
    assert got.shape == np.shape(want)
    for g, w in zip(got, want):   # each sentence on its own scale
        reference.assert_close(g, w, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("activation", list(ACTIVATIONS))
@pytest.mark.parametrize("positional", [True, False])
def test_padded_batch_matches_the_reference(rng, dtype, activation, positional):
    embeddings, filters, classifier = _weights(rng, dtype)
    model = suite.TextCNN(embeddings, filters, classifier, columns=COLUMNS,
                          positional=positional, activation=activation)
    lengths = np.array([1, 2, 4, 5, 9, 12])   # shorter and longer than the banks
    tokens = _tokens(rng, len(lengths), 12, lengths)
    tokens_before = tokens.copy()
    want_features, want_logits = reference.text_cnn(
        embeddings, filters, classifier, tokens, lengths, columns=COLUMNS,
        positional=positional, activation=activation)
    features = model.features(tokens, lengths)
    logits = model.logits(tokens, lengths, n_threads=2)
    assert features.dtype == logits.dtype == np.dtype(dtype)
    assert features.shape == (6, 28) and logits.shape == (6, 4)
    _assert_close(features, want_features, dtype)
    _assert_close(logits, want_logits, dtype)
    np.testing.assert_array_equal(tokens, tokens_before)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("channels", [33, 70])
def test_every_tile_of_the_packed_kernel(rng, dtype, channels):
    # Banks of several blocks of channels with one vector left over, and sentences of
    # 1 to 30 windows: tiles of 6 and 12 windows, repeated, and partly past the last.
    embeddings, filters, classifier = _weights(rng, dtype, channels=channels)
    model = suite.TextCNN(embeddings, filters, classifier, columns=COLUMNS)
    lengths = np.array([1, 3, 6, 7, 8, 12, 13, 17, 18, 19, 25, 31])
    tokens = _tokens(rng, len(lengths), 31, lengths)
    want_features, want_logits = reference.text_cnn(
        embeddings, filters, classifier, tokens, lengths, columns=COLUMNS)
    _assert_close(model.features(tokens, lengths), want_features, dtype)
    _assert_close(model.logits(tokens, lengths), want_logits, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_a_sentence_gets_the_same_bits_alone_or_in_any_batch(rng, dtype):
    model = suite.TextCNN(*_weights(rng, dtype), columns=COLUMNS)
    lengths = rng.integers(1, 15, 9)
    tokens = _tokens(rng, 9, 15, lengths)
    batch = model.logits(tokens, lengths, n_threads=1)
    threaded = model.logits(tokens, lengths, n_threads=3)
    np.testing.assert_array_equal(batch, threaded)
    for s, length in enumerate(lengths):
        np.testing.assert_array_equal(model.logits(tokens[s, :length]), batch[s])
        np.testing.assert_array_equal(model.logits(tokens[s], length), batch[s])


def test_predictions_and_probabilities(rng):
    embeddings, filters, (weights, bias) = _weights(rng, "float64")
    # Logits in the thousands: a naive softmax overflows, a stable one does not.
    model = suite.TextCNN(embeddings, filters, (weights * 1e4, bias), columns=COLUMNS)
    tokens = _tokens(rng, 5, 6, [6] * 5)
    logits = model.logits(tokens)
    assert np.abs(logits).max() > 1000
    proba = model.predict_proba(tokens)
    assert np.all(np.isfinite(proba)) and np.allclose(proba.sum(axis=1), 1)
    np.testing.assert_array_equal(model.predict(tokens), logits.argmax(axis=1))
    assert model.predict(tokens[0]) == logits[0].argmax()
    assert model.predict_proba(tokens[0]).shape == (4,)


def test_result_dtype_follows_the_weights(rng):
    embeddings, filters, classifier = _weights(rng, "float32")
    assert suite.TextCNN(embeddings, filters, classifier, columns=COLUMNS).dtype == np.float32
    embeddings[0] = embeddings[0].astype(np.float64)
    model = suite.TextCNN(embeddings, filters, classifier, columns=COLUMNS)
    assert model.logits(_tokens(rng, 1, 3, [3])[0]).dtype == np.float64


def test_save_and_load(rng, tmp_path):
    model = suite.TextCNN(*_weights(rng, "float32"), columns=COLUMNS, positional=False,
                          activation="tanh")
    path = tmp_path / "model.npz"
    model.save(path)
    with np.load(path, allow_pickle=False) as f:
        assert all(f[key].dtype != object for key in f.files)
    loaded = suite.TextCNN.load(path)
    assert (loaded.columns, loaded.positional, loaded.activation, loaded.dtype) == \
        (model.columns, False, "tanh", np.float32)
    tokens = _tokens(rng, 3, 7, [7, 2, 5])
    np.testing.assert_array_equal(loaded.logits(tokens, [7, 2, 5]),
                                  model.logits(tokens, [7, 2, 5]))


@pytest.mark.parametrize("channels", [1, 5, 16, 17, 48, 100])
@pytest.mark.parametrize("lanes", [1, 4, 16])
@pytest.mark.parametrize("dtype", DTYPES)
def test_pack_filters_layout(rng, channels, lanes, dtype):
    # The layout as its docstring gives it, element by element: blocks of 2 * lanes
    # channels while they fit, then of at most lanes; tap (a, b) in row b * h + a.
    w = rng.standard_normal((channels, 3, 5)).astype(dtype)
    h, d = w.shape[1:]
    packed = pack_filters(w, lanes)
    assert packed.dtype == dtype and packed.shape == (channels * h * d + lanes,)
    c0 = 0
    while c0 < channels:
        width = 2 * lanes if c0 + 2 * lanes <= channels else min(lanes, channels - c0)
        block = packed[c0 * h * d:(c0 + width) * h * d].reshape(h * d, width)
        for a in range(h):
            for b in range(d):
                assert np.array_equal(block[b * h + a], w[c0:c0 + width, a, b])
        c0 += width
    assert not packed[channels * h * d:].any()


@pytest.mark.parametrize("weights, lanes, error, match", [
    (np.ones((2, 3)), 2, ValueError, r"weights must have shape \(channels, h, d\)"),
    (np.ones((0, 3, 4)), 2, ValueError, r"got shape \(0, 3, 4\)"),
    (np.ones((2, 3, 4), np.int64), 2, TypeError, "weights must be float32 or float64"),
    (np.ones((2, 3, 4)), 0, ValueError, "lanes must be at least 1"),
    (np.ones((2, 3, 4)), 2.0, TypeError, "lanes must be an integer"),
    (np.ones((2, 3, 4)), True, TypeError, "lanes must be an integer"),
])
def test_pack_filters_names_a_bad_argument(weights, lanes, error, match):
    with pytest.raises(error, match=match):
        pack_filters(weights, lanes)


def test_positional_encoding_definition():
    pe = positional_encoding(5, 6)
    for t in range(5):
        for j in range(3):
            assert pe[t, 2 * j] == pytest.approx(np.sin(t / 10000 ** (2 * j / 6)), abs=1e-15)
            assert pe[t, 2 * j + 1] == pytest.approx(np.cos(t / 10000 ** (2 * j / 6)), abs=1e-15)


def test_nan_in_an_embedding_reaches_the_logits(rng):
    embeddings, filters, classifier = _weights(rng, "float64")
    embeddings[2][3] = np.nan
    model = suite.TextCNN(embeddings, filters, classifier, columns=COLUMNS)
    tokens = _tokens(rng, 2, 4, [4, 4])
    tokens[0, :, 1] = 3
    tokens[1, :, 1] = 2
    logits = model.logits(tokens)
    assert np.isnan(logits[0]).all() and np.isfinite(logits[1]).all()


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("channels", [33, 70, 96, 130])
def test_one_sentence_split_over_threads_gets_the_same_bits(rng, dtype, channels):
    # One sentence is shared out between the threads by filter blocks: every split
    # (blocks per bank, banks per thread, more threads than blocks) gives each channel
    # the code it gets on one thread.
    weights = _weights(rng, dtype, heights=(1, 3, 4, 6), channels=channels, classes=20,
                       tables=((60, 290), (60, 4), (6, 3), (8, 3)))
    model = suite.TextCNN(*weights, columns=COLUMNS)
    for length in (1, 2, 5, 6, 7, 16, 40):
        assert model._network.splits(length, 2)
        tokens = _tokens(rng, 1, length, [length])
        one = model.logits(tokens, [length], n_threads=1)
        features = model.features(tokens, [length], n_threads=1)
        for n_threads in (2, 3, 5, 64):
            np.testing.assert_array_equal(model.logits(tokens, [length], n_threads=n_threads),
                                          one)
            np.testing.assert_array_equal(
                model.features(tokens, [length], n_threads=n_threads), features)
        want_features, want_logits = reference.text_cnn(*weights, tokens, [length],
                                                        columns=COLUMNS)
        _assert_close(features, want_features, dtype)
        _assert_close(one, want_logits, dtype)


def test_a_small_network_keeps_one_sentence_on_one_thread(rng):
    model = suite.TextCNN(*_weights(rng, "float32"), columns=COLUMNS)
    assert not model._network.splits(12, 2) and not model._network.splits(12, 1)
    assert model._network.splits(10 ** 6, 2)   # enough multiply-adds: split


def test_more_threads_than_sentences(rng):
    model = suite.TextCNN(*_weights(rng, "float64"), columns=COLUMNS)
    tokens = _tokens(rng, 2, 5, [5, 3])
    np.testing.assert_array_equal(model.logits(tokens, [5, 3], n_threads=100000),
                                  model.logits(tokens, [5, 3], n_threads=1))
    assert model.logits(tokens[:0]).shape == (0, 4)


@pytest.fixture
def model(rng):
    return suite.TextCNN(*_weights(rng, "float64"), columns=COLUMNS)


@pytest.mark.parametrize("tokens, lengths, error, match", [
    (np.zeros((4, 3)), None, TypeError, "tokens must be integer"),
    (np.zeros((4, 2), int), None, ValueError, "3 id columns"),
    (np.zeros(4, int), None, ValueError, "tokens must be"),
    (np.zeros((2, 4, 3), int), [0, 4], ValueError, "lengths must be between 1 and n = 4"),
    (np.zeros((2, 4, 3), int), [1, 5], ValueError, "lengths must be between 1 and n = 4"),
    (np.zeros((2, 4, 3), int), [1], ValueError, r"lengths must have shape \(2,\)"),
    (np.zeros((2, 4, 3), int), [1.0, 2.0], TypeError, "lengths must be integer"),
    (np.zeros((1, 0, 3), int), None, ValueError, "at least one position"),
])
def test_bad_tokens_and_lengths(model, tokens, lengths, error, match):
    with pytest.raises(error, match=match):
        model.logits(tokens, lengths)


def test_an_id_out_of_range_names_table_sentence_position_and_id(model):
    tokens = np.zeros((3, 5, 3), int)
    tokens[2, 3, 2] = 8          # table 3 (POS, 8 rows) reads column 2
    with pytest.raises(ValueError, match=r"id 8 at position 3 of sentence 2 .* "
                                         r"embeddings\[3\] \(vocabulary 8\)"):
        model.logits(tokens)
    tokens[2, 3, 2] = -1
    with pytest.raises(ValueError, match=r"id -1 at position 3 of sentence 2"):
        model.logits(tokens)
    model.logits(tokens, [5, 5, 3])   # past the length: never read


@pytest.mark.parametrize("change, error, match", [
    (lambda e, f, c: (e, [(f[0][0][:, :, :-1], f[0][1])] + f[1:], c), ValueError,
     r"filters\[0\] weights are 19 wide; a filter must span the embedding, D = 20"),
    (lambda e, f, c: (e, [(f[0][0], f[0][1][:-1])] + f[1:], c), ValueError,
     r"filters\[0\] bias must have shape \(7,\)"),
    (lambda e, f, c: (e, f, (c[0][:, :-1], c[1])), ValueError,
     r"classifier weights must be \(classes, 28\)"),
    (lambda e, f, c: (e, f, (c[0], c[1][:-1])), ValueError, r"classifier bias must have"),
    (lambda e, f, c: ([e[0].astype(complex)] + e[1:], f, c), TypeError, r"embeddings\[0\]"),
    (lambda e, f, c: ([e[0][0]] + e[1:], f, c), ValueError, r"embeddings\[0\] must be"),
    (lambda e, f, c: ([], f, c), ValueError, "at least one table"),
    (lambda e, f, c: (e, [], c), ValueError, "at least one bank"),
])
def test_bad_weights_name_the_argument(rng, change, error, match):
    embeddings, filters, classifier = change(*_weights(rng, "float64"))
    with pytest.raises(error, match=match):
        suite.TextCNN(embeddings, filters, classifier, columns=COLUMNS)


def test_bad_options_name_the_argument(rng):
    weights = _weights(rng, "float64")
    with pytest.raises(ValueError, match="columns must give one"):
        suite.TextCNN(*weights, columns=[0, 1])
    with pytest.raises(ValueError, match="unknown activation 'gelu'; valid names: identity"):
        suite.TextCNN(*weights, columns=COLUMNS, activation="gelu")


def test_weights_are_copied_not_referenced(rng):
    embeddings, filters, classifier = _weights(rng, "float64")
    model = suite.TextCNN(embeddings, filters, classifier, columns=COLUMNS)
    tokens = _tokens(rng, 1, 4, [4])
    before = model.logits(tokens)
    embeddings[0][:] = 0
    filters[0][0][:] = 0
    np.testing.assert_array_equal(model.logits(tokens), before)
    assert not model.embeddings[0].flags.writeable


def test_peers_compute_the_same_network(rng, tmp_path):
    from suite.report import peers
    model = suite.TextCNN(*_weights(rng, "float32"), columns=COLUMNS)
    tokens = _tokens(rng, 3, 6, [6, 6, 6]).astype(np.int64)
    want = model.logits(tokens)
    torch = peers.torch_or_none()
    ran = []
    if torch is not None:
        got = peers.torch_text_cnn(torch, model)(torch.from_numpy(tokens)).numpy()
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)
        ran.append("torch")
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        pass
    else:
        session = peers.onnxruntime_session(peers.onnx_text_cnn(model, str(tmp_path / "m.onnx")))
        got = session.run(None, {"tokens": tokens})[0]
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)
        ran.append("onnxruntime")
    if not ran:
        pytest.skip("neither PyTorch nor ONNX Runtime is installed (the 'peers' extra)")
