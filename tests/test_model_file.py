"""``TextCNN.save`` / ``TextCNN.load``: the versioned model file, and a corpus of damaged and
hostile files that ``load`` must reject with ``suite.ModelFileError``, naming the file and
the member, without executing anything or allocating more than the file warrants."""
import io
import os
import pickle
import struct
import time
import tracemalloc
import warnings
import zipfile

import numpy as np
import pytest

import suite
from suite import modelfile

COLUMNS = [0, 0, 1, 2]   # GloVe and task-local vectors share the word column
TABLES = ((12, 3), (12, 2), (4, 2), (5, 1))   # D = 8


def _model(dtype="float64", positional=True, activation="selu", seed=0):
    rng = np.random.default_rng(seed)
    d = sum(dim for _, dim in TABLES)
    embeddings = [rng.standard_normal(shape).astype(dtype) for shape in TABLES]
    filters = [(rng.standard_normal((3, h, d)).astype(dtype), rng.standard_normal(3).astype(dtype))
               for h in (2, 3)]
    classifier = (rng.standard_normal((2, 6)).astype(dtype), rng.standard_normal(2).astype(dtype))
    return suite.TextCNN(embeddings, filters, classifier, columns=COLUMNS,
                         positional=positional, activation=activation)


def _tokens(seed=1):
    rng = np.random.default_rng(seed)
    return np.stack([rng.integers(0, v, (3, 6)) for v in (12, 4, 5)], axis=-1)


def _members(model, version=True):
    """The members ``save`` writes (without ``format_version``: today's legacy files)."""
    members = {"format_version": np.array(1, np.int64)} if version else {}
    members["columns"] = np.array(model.columns, np.int64)
    members["positional"] = np.array(model.positional)
    members["activation"] = np.array(model.activation)
    for i, table in enumerate(model.embeddings):
        members[f"embedding_{i}"] = np.array(table)
    for j, (weights, bias) in enumerate(model.filters):
        members[f"filter_weights_{j}"], members[f"filter_bias_{j}"] = np.array(weights), \
            np.array(bias)
    members["classifier_weights"], members["classifier_bias"] = map(np.array, model.classifier)
    return members


def _npy(array) -> bytes:
    out = io.BytesIO()
    np.save(out, array, allow_pickle=True)
    return out.getvalue()


def _npy_header(descr, shape, fortran=False, version=(1, 0)) -> bytes:
    out = io.BytesIO()
    header = {"descr": descr, "fortran_order": fortran, "shape": shape}
    if version == (1, 0):
        np.lib.format.write_array_header_1_0(out, header)
    else:
        np.lib.format.write_array_header_2_0(out, header)
    return out.getvalue()


def _write(path, members, extra=(), compression=zipfile.ZIP_STORED):
    """An archive of ``members`` (arrays or raw bytes, as ``<name>.npy``), then ``extra``
    ``(raw name, bytes)`` entries."""
    entries = [(name + ".npy", value if isinstance(value, bytes) else _npy(value))
               for name, value in members.items()] + list(extra)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # zipfile warns of duplicate names
        with zipfile.ZipFile(path, "w", compression) as zf:
            for name, data in entries:
                zf.writestr(name, data)
    return path


def _patch_central(path, name, offset, fmt, value):
    """Overwrite a field of ``name``'s entry in the archive's central directory."""
    data = bytearray(path.read_bytes())
    start = 0
    while True:
        start = data.index(b"PK\x01\x02", start)
        length, = struct.unpack_from("<H", data, start + 28)
        if data[start + 46:start + 46 + length] == name.encode():
            struct.pack_into(fmt, data, start + offset, value)
            path.write_bytes(bytes(data))
            return path
        start += 4


class _Evil:
    """Makes a directory when unpickled: a file must never get that far."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return os.mkdir, (self.marker,)


# -- the corpus ---------------------------------------------------------------------------
# Each builder writes one file into tmp_path and returns (path, member, fragment): the
# member the message must name (None for the archive as a whole) and a fragment of it.

HOSTILE = []


def hostile(builder):
    HOSTILE.append(pytest.param(builder, id=builder.__name__))
    return builder


def _with(tmp_path, change, version=True, model=None, **kw):
    members = _members(model or _model(), version)
    change(members)
    return _write(tmp_path / "model.npz", members, **kw)


# The three files the old load accepted with another meaning, as today's save writes them.

@hostile
def positional_is_the_string_False(tmp_path):
    path = _with(tmp_path, lambda m: m.update(positional=np.array("False")), version=False)
    return path, "positional", "must be a 0-d bool, got a 0-d <U5 array"


@hostile
def extra_bank_without_a_bias(tmp_path):
    def change(m):
        m["filter_weights_2"] = m["filter_weights_0"]
    return _with(tmp_path, change, version=False), "filter_bias_2", "missing"


@hostile
def float_columns(tmp_path):
    path = _with(tmp_path, lambda m: m.update(columns=np.array([0, .5, 1, 2])), version=False)
    return path, "columns", "must be a 1-d integer array"


# Members: the exact set of names.

@hostile
def missing_member(tmp_path):
    return _with(tmp_path, lambda m: m.pop("classifier_bias")), "classifier_bias", "missing"


@hostile
def missing_activation(tmp_path):
    return _with(tmp_path, lambda m: m.pop("activation")), "activation", "missing"


@hostile
def bias_without_weights(tmp_path):
    def change(m):
        m["filter_bias_2"] = m["filter_bias_0"]
    return _with(tmp_path, change), "filter_weights_2", "missing"


@hostile
def gap_in_the_tables(tmp_path):
    def change(m):
        m["embedding_4"] = m.pop("embedding_1")
    return _with(tmp_path, change), "embedding_1", "without gaps"


@hostile
def gap_in_the_banks(tmp_path):
    def change(m):
        m["filter_weights_2"], m["filter_bias_2"] = m.pop("filter_weights_1"), \
            m.pop("filter_bias_1")
    return _with(tmp_path, change), "filter_weights_1", "without gaps"


@hostile
def no_tables(tmp_path):
    def change(m):
        for i in range(len(TABLES)):
            del m[f"embedding_{i}"]
    return _with(tmp_path, change), "embedding_0", "at least one embedding table"


@hostile
def no_banks(tmp_path):
    def change(m):
        for key in [k for k in m if k.startswith("filter_")]:
            del m[key]
    return _with(tmp_path, change), "filter_weights_0", "at least one filter bank"


@hostile
def unknown_member(tmp_path):
    return _with(tmp_path, lambda m: m.update(weights=np.zeros(3))), "weights", "unknown member"


@hostile
def leading_zero_in_a_number(tmp_path):
    def change(m):
        m["embedding_01"] = m["embedding_1"]
    return _with(tmp_path, change), "embedding_01", "unknown member"


@hostile
def member_name_without_npy(tmp_path):
    path = _with(tmp_path, lambda m: None, extra=[("columns", _npy(np.arange(4)))])
    return path, "columns", "not a .npy member name"


@hostile
def member_in_a_directory(tmp_path):
    path = _with(tmp_path, lambda m: None, extra=[("sub/columns.npy", _npy(np.arange(4)))])
    return path, "sub/columns", "not a .npy member name"


@hostile
def duplicate_member(tmp_path):
    path = _with(tmp_path, lambda m: None,
                 extra=[("columns.npy", _npy(np.array([1, 1, 1, 1], np.int64)))])
    return path, "columns", "appears twice"


# Not a model archive at all.

@hostile
def random_bytes(tmp_path):
    path = tmp_path / "model.npz"
    path.write_bytes(np.random.default_rng(0).bytes(1000))
    return path, None, "not a ZIP archive"


@hostile
def bare_npy(tmp_path):
    path = tmp_path / "model.npy"
    np.save(path, np.zeros(4))
    return path, None, "a bare .npy array"


@hostile
def empty_file(tmp_path):
    path = tmp_path / "model.npz"
    path.write_bytes(b"")
    return path, None, "empty file"


@hostile
def truncated_archive(tmp_path):
    path = tmp_path / "model.npz"
    _model().save(path)
    path.write_bytes(path.read_bytes()[:path.stat().st_size // 2])
    return path, None, "damaged or truncated"


@hostile
def archive_missing_its_last_bytes(tmp_path):
    path = tmp_path / "model.npz"
    _model().save(path)
    path.write_bytes(path.read_bytes()[:-5])
    return path, None, "damaged or truncated"


@hostile
def junk_before_the_archive(tmp_path):
    path = tmp_path / "model.npz"
    _model().save(path)
    path.write_bytes(b"#!/bin/sh\n" + path.read_bytes())
    return path, None, "not a ZIP archive"


# Sizes: what a header declares against what the archive holds.

def _huge(tmp_path, shape):
    # A model of one table, one filter and one class, deflated; embedding_0's header claims
    # `shape` of float64 and holds nothing: the whole file is under 2 KB.
    tiny = suite.TextCNN([np.ones((4, 2))], [(np.ones((1, 1, 2)), np.ones(1))],
                         (np.ones((1, 1)), np.ones(1)))

    def change(m):
        m["embedding_0"] = _npy_header("<f8", shape)
    return _with(tmp_path, change, model=tiny, compression=zipfile.ZIP_DEFLATED)


@hostile
def header_claims_80_TiB(tmp_path):
    path = _huge(tmp_path, (2 ** 40, 10))
    assert path.stat().st_size < 2048
    return path, "embedding_0", "but the archive holds 0 bytes"


@hostile
def header_claims_4_GiB(tmp_path):
    return _huge(tmp_path, (2 ** 28, 2)), "embedding_0", "4294967296 bytes"


@hostile
def header_claims_one_row_more(tmp_path):
    def change(m):
        m["embedding_2"] = _npy_header("<f8", (5, 2)) + m["embedding_2"].tobytes()
    return _with(tmp_path, change), "embedding_2", "80 bytes, but the archive holds 64"


@hostile
def header_claims_one_row_less(tmp_path):
    def change(m):
        m["embedding_2"] = _npy_header("<f8", (3, 2)) + m["embedding_2"].tobytes()
    return _with(tmp_path, change), "embedding_2", "48 bytes, but the archive holds 64"


@hostile
def negative_dimension(tmp_path):
    def change(m):
        m["embedding_1"] = _npy_header("<f8", (-1, 2))
    return _with(tmp_path, change), "embedding_1", "declares the shape (-1, 2)"


@hostile
def central_directory_claims_4_GiB(tmp_path):
    path = _with(tmp_path, lambda m: None)
    _patch_central(path, "embedding_0.npy", 20, "<I", 2 ** 32 - 16)
    _patch_central(path, "embedding_0.npy", 24, "<I", 2 ** 32 - 16)
    return path, "embedding_0", "past the end"


@hostile
def stored_sizes_disagree(tmp_path):
    path = _with(tmp_path, lambda m: None)
    _patch_central(path, "filter_weights_1.npy", 24, "<I", 10 ** 6)
    return path, "filter_weights_1", "sizes disagree"


@hostile
def zip_bomb(tmp_path):
    # A deflated MiB of zeros in an archive of a few KB.
    def change(m):
        m["embedding_0"] = np.zeros((2 ** 14, 8))
    return _with(tmp_path, change, compression=zipfile.ZIP_DEFLATED), "embedding_0", \
        "more than 100 times"


@hostile
def overlapping_entries(tmp_path):
    # Three central-directory entries over the one local entry of classifier_weights.
    path = tmp_path / "model.npz"
    _write(path, _members(_model()))
    data = path.read_bytes()
    eocd = data.rindex(b"PK\x05\x06")
    count, size, offset = struct.unpack_from("<HII", data, eocd + 10)
    central = data[offset:offset + size]
    start = central.index(b"classifier_weights.npy") - 46
    entry = central[start:start + 46 + len("classifier_weights.npy")]
    copies = [entry.replace(b"classifier_weights", name) for name in
              (b"classifier_weightz", b"classifier_weightx")]
    new_central = central + b"".join(copies)
    eocd_record = bytearray(data[eocd:])
    struct.pack_into("<HHII", eocd_record, 8, count + 2, count + 2, len(new_central), offset)
    path.write_bytes(data[:offset] + new_central + bytes(eocd_record))
    return path, "classifier_weightz", "overlaps classifier_weights"


@hostile
def bad_crc(tmp_path):
    path = _with(tmp_path, lambda m: None)
    data = bytearray(path.read_bytes())
    at = data.index(_npy(_members(_model())["embedding_3"]))
    data[at + 130] ^= 0xFF     # a byte of the data, past the 128-byte header
    path.write_bytes(bytes(data))
    return path, "embedding_3", "damaged"


@hostile
def unsupported_compression(tmp_path):
    path = _with(tmp_path, lambda m: None)
    _patch_central(path, "columns.npy", 10, "<H", zipfile.ZIP_BZIP2)
    return path, "columns", "ZIP method 12"


@hostile
def encrypted_member(tmp_path):
    path = _with(tmp_path, lambda m: None)
    _patch_central(path, "positional.npy", 8, "<H", 1)
    return path, "positional", "encrypted"


# The .npy headers themselves.

@hostile
def not_npy_bytes(tmp_path):
    path = _with(tmp_path, lambda m: m.update(columns=b"0,0,1,2\n"))
    return path, "columns", "not a .npy array"


@hostile
def npy_format_3(tmp_path):
    def change(m):
        m["columns"] = b"\x93NUMPY\x03\x00" + _npy(m["columns"])[8:]
    return _with(tmp_path, change), "columns", ".npy format version 3.0"


@hostile
def header_longer_than_4_KiB(tmp_path):
    def change(m):
        header = ("{'descr': '<i8', 'fortran_order': False, 'shape': (4,), }"
                  + " " * 5000 + "\n").encode("latin1")
        m["columns"] = (b"\x93NUMPY\x02\x00" + struct.pack("<I", len(header)) + header
                        + m["columns"].tobytes())
    return _with(tmp_path, change), "columns", "longer than 4096 bytes"


@hostile
def header_is_code(tmp_path):
    def change(m):
        header = b"__import__('os').mkdir('pwned')" + b" " * 60 + b"\n"
        m["columns"] = b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header
    return _with(tmp_path, change), "columns", "an unreadable .npy header"


@hostile
def object_dtype(tmp_path):
    def change(m):
        m["columns"] = np.array([0, 0, 1, 2], dtype=object)
    return _with(tmp_path, change), "columns", "holds Python objects"


@hostile
def pickle_in_an_object_member(tmp_path):
    marker = tmp_path / "unpickled"
    path = _with(tmp_path, lambda m: m.update(embedding_0=np.array([_Evil(marker)])))
    return path, "embedding_0", "never hold pickles"


@hostile
def bare_pickle_member(tmp_path):
    marker = tmp_path / "unpickled"
    path = _with(tmp_path, lambda m: m.update(embedding_0=pickle.dumps(_Evil(marker))))
    return path, "embedding_0", "not a .npy array"


@hostile
def structured_dtype(tmp_path):
    def change(m):
        m["embedding_0"] = np.zeros(12, [("a", "<f8"), ("b", "<f8"), ("c", "<f8")])
    return _with(tmp_path, change), "embedding_0", "must be little-endian float32 or float64"


# The format version.

@hostile
def future_format_version(tmp_path):
    path = _with(tmp_path, lambda m: m.update(format_version=np.array(2, np.int64)))
    return path, "format_version", "format version 2 is newer"


@hostile
def future_version_with_new_members(tmp_path):
    def change(m):
        m["format_version"] = np.array(7, np.int64)
        m["attention_0"] = np.zeros(3)
    return _with(tmp_path, change), "format_version", "format version 7 is newer"


@hostile
def format_version_0(tmp_path):
    path = _with(tmp_path, lambda m: m.update(format_version=np.array(0, np.int64)))
    return path, "format_version", "unknown format version 0"


@hostile
def float_format_version(tmp_path):
    path = _with(tmp_path, lambda m: m.update(format_version=np.array(1.0)))
    return path, "format_version", "must be a 0-d integer"


@hostile
def format_version_array(tmp_path):
    path = _with(tmp_path, lambda m: m.update(format_version=np.array([1], np.int64)))
    return path, "format_version", "must be a 0-d integer"


# Dtypes.

@hostile
def integer_table(tmp_path):
    path = _with(tmp_path, lambda m: m.update(embedding_1=np.zeros((12, 2), np.int64)))
    return path, "embedding_1", "must be little-endian float32 or float64, got a 2-d <i8"


@hostile
def big_endian_weights(tmp_path):
    def change(m):
        m["filter_weights_0"] = m["filter_weights_0"].astype(">f8")
    return _with(tmp_path, change), "filter_weights_0", "got a 3-d >f8 array"


@hostile
def float16_bias(tmp_path):
    def change(m):
        m["classifier_bias"] = m["classifier_bias"].astype(np.float16)
    return _with(tmp_path, change), "classifier_bias", "got a 1-d <f2"


@hostile
def complex_table(tmp_path):
    def change(m):
        m["embedding_3"] = m["embedding_3"].astype(np.complex128)
    return _with(tmp_path, change), "embedding_3", "got a 2-d <c16"


@hostile
def mixed_float_dtypes(tmp_path):
    def change(m):
        m["filter_bias_1"] = m["filter_bias_1"].astype(np.float32)
    return _with(tmp_path, change), "filter_bias_1", "is float32 but embedding_0 is float64"


@hostile
def big_endian_columns(tmp_path):
    path = _with(tmp_path, lambda m: m.update(columns=np.array(COLUMNS, ">i8")))
    return path, "columns", "must be a 1-d integer array"


@hostile
def bool_columns(tmp_path):
    path = _with(tmp_path, lambda m: m.update(columns=np.array([0, 0, 1, 1], bool)))
    return path, "columns", "must be a 1-d integer array"


@hostile
def integer_positional(tmp_path):
    path = _with(tmp_path, lambda m: m.update(positional=np.array(1)))
    return path, "positional", "must be a 0-d bool, got a 0-d <i8 array"


@hostile
def bytes_activation(tmp_path):
    path = _with(tmp_path, lambda m: m.update(activation=np.array(b"tanh")))
    return path, "activation", "unicode string of at most 32 characters, got a 0-d |S4"


@hostile
def long_activation(tmp_path):
    path = _with(tmp_path, lambda m: m.update(activation=np.array("relu" * 100)))
    return path, "activation", "at most 32 characters, got a 0-d <U400"


# Shapes.

@hostile
def non_scalar_positional(tmp_path):
    path = _with(tmp_path, lambda m: m.update(positional=np.array([True])))
    return path, "positional", "must be a 0-d bool, got a 1-d |b1 array of shape (1,)"


@hostile
def non_scalar_activation(tmp_path):
    path = _with(tmp_path, lambda m: m.update(activation=np.array(["tanh"])))
    return path, "activation", "got a 1-d <U4 array"


@hostile
def columns_of_the_wrong_length(tmp_path):
    path = _with(tmp_path, lambda m: m.update(columns=np.array([0, 1], np.int64)))
    return path, "columns", "one id column per table (4)"


@hostile
def one_dimensional_table(tmp_path):
    path = _with(tmp_path, lambda m: m.update(embedding_2=np.zeros(8)))
    return path, "embedding_2", "must be a non-empty 2-d (vocab, dim) table"


@hostile
def empty_table(tmp_path):
    path = _with(tmp_path, lambda m: m.update(embedding_2=np.zeros((0, 2))))
    return path, "embedding_2", "must be a non-empty 2-d (vocab, dim) table"


@hostile
def filter_narrower_than_the_embedding(tmp_path):
    def change(m):
        m["filter_weights_1"] = m["filter_weights_1"][:, :, :-1].copy()
    return _with(tmp_path, change), "filter_weights_1", "must be (channels, h, D = 8)"


@hostile
def filter_of_height_0(tmp_path):
    path = _with(tmp_path, lambda m: m.update(filter_weights_0=np.zeros((3, 0, 8))))
    return path, "filter_weights_0", "h >= 1"


@hostile
def bias_of_the_wrong_length(tmp_path):
    def change(m):
        m["filter_bias_0"] = m["filter_bias_0"][:-1].copy()
    return _with(tmp_path, change), "filter_bias_0", "must have shape (3,)"


@hostile
def classifier_of_the_wrong_width(tmp_path):
    def change(m):
        m["classifier_weights"] = m["classifier_weights"][:, :-1].copy()
    return _with(tmp_path, change), "classifier_weights", "must be (classes, 6)"


@hostile
def classifier_bias_of_the_wrong_length(tmp_path):
    path = _with(tmp_path, lambda m: m.update(classifier_bias=np.zeros(3)))
    return path, "classifier_bias", "must have shape (2,)"


# Values.

@hostile
def unknown_activation(tmp_path):
    path = _with(tmp_path, lambda m: m.update(activation=np.array("gelu")))
    return path, "activation", "unknown activation 'gelu'; valid names: identity"


@hostile
def activation_not_unicode(tmp_path):
    def change(m):
        m["activation"] = _npy_header("<U1", ()) + struct.pack("<I", 0x110000)
    return _with(tmp_path, change), "activation", "not a valid unicode string"


@hostile
def negative_column(tmp_path):
    path = _with(tmp_path, lambda m: m.update(columns=np.array([0, 0, 1, -1], np.int64)))
    return path, "columns", "id column -1 of table 3 is out of range"


@hostile
def huge_column(tmp_path):
    path = _with(tmp_path, lambda m: m.update(columns=np.array([0, 0, 1, 10 ** 9])))
    return path, "columns", "id column 1000000000 of table 3"


@hostile
def positional_byte_2(tmp_path):
    path = _with(tmp_path, lambda m: m.update(positional=_npy_header("|b1", ()) + b"\x02"))
    return path, "positional", "holds the byte 2"


@pytest.mark.parametrize("build", HOSTILE)
def test_hostile_file_is_rejected(tmp_path, build):
    path, member, fragment = build(tmp_path)
    size = path.stat().st_size
    tracemalloc.start()
    start = time.monotonic()
    try:
        with pytest.raises(suite.ModelFileError) as raised:
            suite.TextCNN.load(path)
        elapsed = time.monotonic() - start
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    message = str(raised.value)
    assert message.startswith(f"model file '{path}'")
    if member is None:
        assert ", member " not in message
    else:
        assert message.startswith(f"model file '{path}', member '{member}': ")
    assert fragment in message
    assert (raised.value.file, raised.value.member) == (str(path), member)
    assert isinstance(raised.value, ValueError)
    # At once, allocating nothing past what the file itself warrants, unpickling and
    # running nothing.
    assert elapsed < 2
    assert peak < 256 * 1024 + 4 * size
    assert not (tmp_path / "unpickled").exists() and not os.path.exists("pwned")


def test_the_corpus_counts_its_files():
    names = [param.id for param in HOSTILE]
    assert len(names) == len(set(names)) == 71


# -- files that load ---------------------------------------------------------------------

@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_round_trip_gives_identical_logits(tmp_path, dtype):
    model = _model(dtype, positional=False, activation="tanh")
    path = tmp_path / "model.npz"
    model.save(path)
    loaded = suite.TextCNN.load(path)
    assert (loaded.columns, loaded.positional, loaded.activation, loaded.dtype) == \
        (tuple(COLUMNS), False, "tanh", np.dtype(dtype))
    np.testing.assert_array_equal(loaded.logits(_tokens(), [6, 2, 4]),
                                  model.logits(_tokens(), [6, 2, 4]))
    with np.load(path, allow_pickle=False) as f:
        assert f["format_version"].dtype == np.int64 and f["format_version"].shape == ()
        assert int(f["format_version"]) == modelfile.FORMAT_VERSION == 1
        assert sorted(f.files) == sorted(_members(model))
        assert all(f[k].dtype == dtype for k in f.files if k.startswith(("embedding", "filter",
                                                                         "classifier")))


def test_a_file_of_the_unversioned_format_loads_with_the_same_meaning(tmp_path):
    model = _model("float32", positional=False, activation="relu")
    path = tmp_path / "old.npz"
    # As save wrote it before the format had a version.
    arrays = {f"embedding_{i}": t for i, t in enumerate(model.embeddings)}
    for j, (w, b) in enumerate(model.filters):
        arrays[f"filter_weights_{j}"], arrays[f"filter_bias_{j}"] = w, b
    arrays["classifier_weights"], arrays["classifier_bias"] = model.classifier
    np.savez(path, columns=np.array(model.columns, np.int64),
             positional=np.array(model.positional), activation=np.array(model.activation),
             **arrays)
    assert modelfile.read_model(path).format_version == 0
    loaded = suite.TextCNN.load(path)
    assert (loaded.columns, loaded.positional, loaded.activation, loaded.dtype) == \
        (model.columns, False, "relu", np.float32)
    np.testing.assert_array_equal(loaded.logits(_tokens()), model.logits(_tokens()))


def test_deflated_and_fortran_order_members_load_with_the_same_meaning(tmp_path):
    model = _model()
    members = _members(model)
    members["classifier_weights"] = np.asfortranarray(members["classifier_weights"])
    path = tmp_path / "model.npz"
    np.savez_compressed(path, **members)
    arrays = modelfile.read_model(path)
    assert arrays.format_version == 1
    np.testing.assert_array_equal(arrays.classifier[0], model.classifier[0])
    np.testing.assert_array_equal(suite.TextCNN.load(path).logits(_tokens()),
                                  model.logits(_tokens()))


def test_a_binary_file_object_round_trips():
    model = _model("float32")
    buffer = io.BytesIO()
    model.save(buffer)
    buffer.seek(0)
    loaded = suite.TextCNN.load(buffer)
    np.testing.assert_array_equal(loaded.logits(_tokens()), model.logits(_tokens()))
    with pytest.raises(suite.ModelFileError, match=r"^model file '<BytesIO>': empty file"):
        suite.TextCNN.load(io.BytesIO())


def test_read_model_gives_plain_validated_arrays(tmp_path):
    model = _model()
    model.save(tmp_path / "model.npz")
    arrays = modelfile.read_model(tmp_path / "model.npz")
    assert arrays.columns == tuple(COLUMNS) and arrays.positional is True
    assert arrays.activation == "selu" and len(arrays.embeddings) == 4
    assert [w.shape for w, _ in arrays.filters] == [(3, 2, 8), (3, 3, 8)]
    assert all(type(a) is np.ndarray for a in arrays.embeddings)


# -- arguments -----------------------------------------------------------------------------

@pytest.mark.parametrize("path", [3, None, b"model.npz", ["model.npz"], io.StringIO("")])
def test_a_path_of_the_wrong_type_is_a_type_error(path):
    with pytest.raises(TypeError, match="path must be"):
        suite.TextCNN.load(path)


def test_save_to_a_path_of_the_wrong_type_is_a_type_error():
    with pytest.raises(TypeError, match="path must be"):
        _model().save(3)


def test_a_missing_file_stays_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        suite.TextCNN.load(tmp_path / "absent.npz")


def test_the_error_is_exported_and_pickles():
    error = suite.ModelFileError("x.npz", "positional", "must be a 0-d bool")
    assert str(error) == "model file 'x.npz', member 'positional': must be a 0-d bool"
    copy = pickle.loads(pickle.dumps(error))
    assert (type(copy), str(copy), copy.member) == (suite.ModelFileError, str(error),
                                                    "positional")
    assert "ModelFileError" in suite.__all__


def test_write_model_refuses_what_read_model_would_reject(tmp_path):
    model = _model()
    with pytest.raises(suite.ModelFileError, match="member 'activation': unknown activation"):
        modelfile.write_model(tmp_path / "m.npz", model.embeddings, model.filters,
                              model.classifier, columns=COLUMNS, positional=True,
                              activation="gelu")
    assert not (tmp_path / "m.npz").exists()
