"""The model file of ``suite.TextCNN``: a versioned ``.npz`` archive, read strictly.

Format
------
A model file is a ZIP archive of ``.npy`` members, as :func:`numpy.savez` writes it,
holding exactly these members (``<name>.npy`` in the archive) and no others:

======================  ==================================  ==============================
member                  dtype                               shape and values
======================  ==================================  ==============================
``format_version``      integer (``save`` writes int64)     ``()``, 1
``columns``             integer (``save`` writes int64)     ``(tables,)``, each 0 .. 1023
``positional``          bool                                ``()``
``activation``          unicode, at most 32 characters      ``()``, a key of
                                                            ``suite.registry.ACTIVATIONS``
``embedding_<i>``       the weights' dtype                  ``(vocab_i, dim_i)``, both >= 1
``filter_weights_<j>``  the weights' dtype                  ``(channels_j, h_j, D)``,
                                                            ``channels_j, h_j >= 1``
``filter_bias_<j>``     the weights' dtype                  ``(channels_j,)``
``classifier_weights``  the weights' dtype                  ``(classes, sum(channels_j))``,
                                                            ``classes >= 1``
``classifier_bias``     the weights' dtype                  ``(classes,)``
======================  ==================================  ==============================

``i`` runs over ``0 .. tables - 1`` and ``j`` over ``0 .. banks - 1``, without gaps or
leading zeros, with at least one table and one bank; ``D = sum(dim_i)``.  The weights'
dtype is the model's compute dtype, little-endian float32 or float64, the same for every
weight member.  ``columns[i]`` is the id column of the tokens that indexes table ``i``.

Versions
--------
1
    The members above (:data:`FORMAT_VERSION`).
0
    Files written before the format had a version: every member above but
    ``format_version``, with the same meaning.  :func:`read_model` reads them; it rejects
    a ``format_version`` it does not know, naming it.

Reading
-------
:func:`read_model` checks the archive before it allocates anything for the members: each
entry is stored or deflated, not encrypted, named ``<name>.npy`` once, and fits in the
archive without overlapping another (stored entries' sizes sum to at most the archive's
size, deflated ones expand to at most :data:`MAX_DEFLATE_RATIO` times it); the member
names are exactly the set above.  It then reads only each member's ``.npy`` header (format
1.0 or 2.0) and checks its dtype against an allow-list (object dtypes, and so pickles, are
never read), its shape against the others', and its declared size (shape times item size)
against what the archive holds for the member.  Only then does it read each member's
data, exactly the declared number of bytes, and check the values.  Any problem with the
file's content is a :class:`ModelFileError` naming the file and the member.
"""
from __future__ import annotations

import io
import os
import re
import struct
import zipfile
import zlib
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np
from numpy.lib import format as npy_format

from suite.registry import ACTIVATIONS

__all__ = ["ModelFileError", "ModelArrays", "FORMAT_VERSION", "read_model", "write_model"]

FORMAT_VERSION = 1
"""The version :func:`write_model` writes; :func:`read_model` reads it and version 0."""

MAX_COLUMN = 1023
"""The largest id column ``columns`` may name."""

MAX_ACTIVATION_CHARS = 32
"""The longest ``activation`` string a file may hold."""

MAX_DEFLATE_RATIO = 100
"""Deflated members may expand to at most this many times the archive's size, in all."""

MAX_HEADER_BYTES = 4096
"""The longest ``.npy`` header (magic string included) a member may have."""

_CHUNK = 1 << 20
_WEIGHT_DTYPES = ("<f4", "<f8")
_INT_DTYPES = ("|i1", "<i2", "<i4", "<i8", "|u1", "<u2", "<u4", "<u8")
_FIXED = ("format_version", "columns", "positional", "activation", "classifier_weights",
          "classifier_bias")
_NUMBERED = re.compile(r"(embedding|filter_weights|filter_bias)_(0|[1-9][0-9]{0,5})")
_STEM = re.compile(r"[A-Za-z0-9_]{1,64}")


class ModelFileError(ValueError):
    """A model file whose content is not a model :func:`write_model` could have written.

    Parameters
    ----------
    file : str
        The file, as the caller named it.
    member : str or None
        The member at fault (without ``.npy``), or None for the archive as a whole.
    problem : str
        What is wrong.

    Attributes
    ----------
    file, member, problem
        As passed.
    """

    def __init__(self, file: str, member: Optional[str], problem: str):
        self.file, self.member, self.problem = file, member, problem
        where = f"model file '{file}'" + ("" if member is None else f", member '{member}'")
        super().__init__(f"{where}: {problem}")

    def __reduce__(self):
        return type(self), (self.file, self.member, self.problem)


@dataclass(frozen=True)
class ModelArrays:
    """The validated content of a model file, what ``suite.TextCNN`` is built from.

    Attributes
    ----------
    embeddings : list of ndarray
        ``(vocab_i, dim_i)`` tables.
    filters : list of (ndarray, ndarray)
        ``(channels_j, h_j, D)`` weights and ``(channels_j,)`` biases.
    classifier : (ndarray, ndarray)
        ``(classes, sum(channels_j))`` weights and ``(classes,)`` biases.
    columns : tuple of int
        The id column of each table.
    positional : bool
        Whether the positional encoding is added.
    activation : str
        A key of ``suite.registry.ACTIVATIONS``.
    format_version : int
        The file's version (0 for a file without ``format_version``).
    """

    embeddings: List[np.ndarray]
    filters: List[Tuple[np.ndarray, np.ndarray]]
    classifier: Tuple[np.ndarray, np.ndarray]
    columns: Tuple[int, ...]
    positional: bool
    activation: str
    format_version: int


@dataclass(frozen=True)
class _Header:
    dtype: np.dtype
    shape: Tuple[int, ...]
    fortran: bool = False
    offset: int = 0        # bytes of magic string and header before the data

    @property
    def nbytes(self) -> int:
        n = self.dtype.itemsize
        for dim in self.shape:
            n *= dim
        return n


Fail = Callable[[Optional[str], str], ModelFileError]


def _describe(header: _Header) -> str:
    kind = f"a {len(header.shape)}-d {header.dtype.str} array"
    return kind if not header.shape else f"{kind} of shape {header.shape}"


# -- the schema, shared by the reader and the writer -------------------------------------

def _check_names(fail: Fail, names, version: int) -> Tuple[int, int]:
    """The numbers of tables and banks, once ``names`` is exactly a model's members."""
    fixed = set(_FIXED) if version >= 1 else set(_FIXED) - {"format_version"}
    numbered: Dict[str, set] = {"embedding": set(), "filter_weights": set(),
                                "filter_bias": set()}
    for name in sorted(names):
        match = _NUMBERED.fullmatch(name)
        if match:
            numbered[match.group(1)].add(int(match.group(2)))
        elif name not in fixed:
            raise fail(name, "unknown member; a model file holds " + ", ".join(
                sorted(fixed)) + ", embedding_<i>, filter_weights_<j> and filter_bias_<j>")
    for name in _FIXED:
        if name in fixed and name not in names:
            raise fail(name, "missing")
    tables = sorted(numbered["embedding"])
    if not tables:
        raise fail("embedding_0", "missing; a model holds at least one embedding table")
    for i, found in enumerate(tables):
        if found != i:
            raise fail(f"embedding_{i}", f"missing; tables are numbered from 0 without gaps, "
                                         f"and the file has embedding_{found}")
    banks = numbered["filter_weights"] | numbered["filter_bias"]
    if not banks:
        raise fail("filter_weights_0", "missing; a model holds at least one filter bank")
    for j in range(max(banks) + 1):
        for kind, other in (("filter_weights", "filter_bias"), ("filter_bias", "filter_weights")):
            if j not in numbered[kind]:
                because = (f"every {other}_<j> needs its {kind}_<j>" if j in numbered[other]
                           else "banks are numbered from 0 without gaps")
                raise fail(f"{kind}_{j}", f"missing; {because}")
    return len(tables), max(banks) + 1


def _check_int_scalar(fail: Fail, name: str, header: _Header) -> None:
    if header.dtype.str not in _INT_DTYPES or header.shape != ():
        raise fail(name, f"must be a 0-d integer, got {_describe(header)}")


def _check_headers(fail: Fail, headers: Dict[str, _Header], n_tables: int,
                   n_banks: int) -> None:
    """Every member's dtype and shape, against the schema and each other."""
    if "format_version" in headers:
        _check_int_scalar(fail, "format_version", headers["format_version"])
    h = headers["columns"]
    if h.dtype.str not in _INT_DTYPES or h.shape != (n_tables,):
        raise fail("columns", f"must be a 1-d integer array of one id column per table "
                              f"({n_tables}), got {_describe(h)}")
    h = headers["positional"]
    if h.dtype.str != "|b1" or h.shape != ():
        raise fail("positional", f"must be a 0-d bool, got {_describe(h)}")
    h = headers["activation"]
    if (h.dtype.kind != "U" or h.dtype.str[0] != "<" or h.shape != ()
            or not 1 <= h.dtype.itemsize // 4 <= MAX_ACTIVATION_CHARS):
        raise fail("activation", f"must be a 0-d little-endian unicode string of at most "
                                 f"{MAX_ACTIVATION_CHARS} characters, got {_describe(h)}")

    weights = ([f"embedding_{i}" for i in range(n_tables)]
               + [f"filter_{kind}_{j}" for j in range(n_banks) for kind in ("weights", "bias")]
               + ["classifier_weights", "classifier_bias"])
    first = weights[0]
    for name in weights:
        h = headers[name]
        if h.dtype.str not in _WEIGHT_DTYPES:
            raise fail(name, f"must be little-endian float32 or float64, got {_describe(h)}")
        if h.dtype != headers[first].dtype:
            raise fail(name, f"is {h.dtype.name} but {first} is {headers[first].dtype.name}; "
                             f"every weight of a model has its one compute dtype")

    d = 0
    for i in range(n_tables):
        h = headers[f"embedding_{i}"]
        if len(h.shape) != 2 or min(h.shape) < 1:
            raise fail(f"embedding_{i}", f"must be a non-empty 2-d (vocab, dim) table, got "
                                         f"{_describe(h)}")
        d += h.shape[1]
    n_features = 0
    for j in range(n_banks):
        h = headers[f"filter_weights_{j}"]
        if len(h.shape) != 3 or h.shape[0] < 1 or h.shape[1] < 1 or h.shape[2] != d:
            raise fail(f"filter_weights_{j}", f"must be (channels, h, D = {d}) with channels, "
                                              f"h >= 1, got {_describe(h)}")
        channels = h.shape[0]
        h = headers[f"filter_bias_{j}"]
        if h.shape != (channels,):
            raise fail(f"filter_bias_{j}", f"must have shape ({channels},), one per filter of "
                                           f"filter_weights_{j}, got {_describe(h)}")
        n_features += channels
    h = headers["classifier_weights"]
    if len(h.shape) != 2 or h.shape[0] < 1 or h.shape[1] != n_features:
        raise fail("classifier_weights", f"must be (classes, {n_features}) for {n_features} "
                                         f"pooled features, got {_describe(h)}")
    classes = h.shape[0]
    h = headers["classifier_bias"]
    if h.shape != (classes,):
        raise fail("classifier_bias", f"must have shape ({classes},), one per class, got "
                                      f"{_describe(h)}")


def _check_version(fail: Fail, version: int) -> None:
    if version > FORMAT_VERSION:
        raise fail("format_version", f"format version {version} is newer than this "
                                     f"textcnn-suite reads (up to {FORMAT_VERSION}); a newer "
                                     f"textcnn-suite wrote it")
    if version != FORMAT_VERSION:
        raise fail("format_version", f"unknown format version {version}; this textcnn-suite "
                                     f"reads version {FORMAT_VERSION}, and files without "
                                     f"format_version (written before it had versions)")


def _check_values(fail: Fail, arrays: Dict[str, np.ndarray]) -> Tuple[Tuple[int, ...], bool]:
    """``columns`` and ``positional``, checked (``activation`` is checked where decoded)."""
    columns = tuple(int(c) for c in arrays["columns"])
    for i, c in enumerate(columns):
        if not 0 <= c <= MAX_COLUMN:
            raise fail("columns", f"id column {c} of table {i} is out of range; columns are "
                                  f"0 to {MAX_COLUMN}")
    raw = arrays["positional"].view(np.uint8)[()]
    if raw not in (0, 1):
        raise fail("positional", f"holds the byte {raw}, neither False (0) nor True (1)")
    return columns, bool(arrays["positional"][()])


def _check_activation(fail: Fail, activation: str) -> str:
    if activation not in ACTIVATIONS:
        raise fail("activation", f"unknown activation {activation!r}; valid names: "
                                 f"{', '.join(ACTIVATIONS)}")
    return activation


# -- reading ------------------------------------------------------------------------------

class _Bounded:
    """At most ``limit`` bytes of ``fp``, in reads of at most ``_CHUNK``, counted."""

    def __init__(self, fp, limit: int):
        self.fp, self.limit, self.count = fp, limit, 0

    def read(self, n: int) -> bytes:
        n = min(n, self.limit - self.count, _CHUNK)
        data = self.fp.read(n) if n > 0 else b""
        self.count += len(data)
        return data


# What damaged archive and .npy bytes raise, in zipfile, zlib and numpy.lib.format.
_DAMAGE = (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, ValueError, TypeError,
           SyntaxError, OverflowError, RecursionError, MemoryError, struct.error, zlib.error,
           NotImplementedError, KeyError)


class _Reader:
    def __init__(self, name: str, fp):
        self.name, self.fp = name, fp
        fp.seek(0, io.SEEK_END)
        self.size = fp.tell()
        fp.seek(0)
        head = fp.read(8)
        if not isinstance(head, (bytes, bytearray)):
            raise TypeError(f"path must be opened in binary mode, got a file whose read "
                            f"returns {type(head).__name__}")
        fp.seek(0)
        if not head:
            raise self.fail(None, "empty file, not a model archive")
        if head.startswith(npy_format.MAGIC_PREFIX):
            raise self.fail(None, "a bare .npy array, not a model archive (a ZIP archive of "
                                  ".npy members, as TextCNN.save writes)")
        if not head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
            raise self.fail(None, f"not a ZIP archive (it starts with {bytes(head[:4])!r}), "
                                  f"not a model archive")
        try:
            self.zf = zipfile.ZipFile(fp)
        except _DAMAGE as exc:
            raise self.fail(None, f"a damaged or truncated ZIP archive ({exc})") from exc
        self.members: Dict[str, zipfile.ZipInfo] = {}

    def fail(self, member: Optional[str], problem: str) -> ModelFileError:
        return ModelFileError(self.name, member, problem)

    def entries(self) -> None:
        """Every entry's name, method and sizes, before any is read."""
        compressed = deflated = 0
        for info in self.zf.infolist():
            raw = info.filename
            member = raw[:-4] if raw.endswith(".npy") else raw
            if not raw.endswith(".npy") or not _STEM.fullmatch(member):
                raise self.fail(member, "not a .npy member name; every member of a model file "
                                        "is named <name>.npy")
            if member in self.members:
                raise self.fail(member, "appears twice in the archive")
            if info.flag_bits & 0x1:
                raise self.fail(member, "encrypted; model files are not")
            if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
                raise self.fail(member, f"compressed with ZIP method {info.compress_type}; "
                                        f"only stored and deflated members are read")
            if info.compress_type == zipfile.ZIP_STORED and info.file_size != info.compress_size:
                raise self.fail(member, f"a stored member whose sizes disagree ("
                                        f"{info.file_size} and {info.compress_size} bytes)")
            if info.header_offset < 0 or info.header_offset + info.compress_size > self.size:
                raise self.fail(member, f"claims {info.compress_size} bytes from offset "
                                        f"{info.header_offset}, past the end of the "
                                        f"{self.size}-byte archive")
            compressed += info.compress_size
            if compressed > self.size:
                raise self.fail(member, f"the members claim {compressed} bytes so far, more "
                                        f"than the archive's {self.size}")
            if info.compress_type == zipfile.ZIP_DEFLATED:
                deflated += info.file_size
                if deflated > MAX_DEFLATE_RATIO * self.size:
                    raise self.fail(member, f"deflated members would expand to {deflated} "
                                            f"bytes so far, more than {MAX_DEFLATE_RATIO} "
                                            f"times the archive's {self.size}")
            self.members[member] = info
        # Each entry's local header (at least 30 bytes and its name) and data end before
        # the next entry starts: no two entries share bytes, so none is read twice.
        end, previous = 0, None
        for info in sorted(self.members.values(), key=lambda info: info.header_offset):
            if info.header_offset < end:
                raise self.fail(info.filename[:-4], f"overlaps {previous} in the archive")
            end = (info.header_offset + 30 + len(info.filename.encode("utf-8"))
                   + info.compress_size)
            previous = info.filename[:-4]

    def header(self, member: str) -> _Header:
        """The member's ``.npy`` header, its declared size checked against the archive's."""
        info = self.members[member]
        stage = "magic"
        try:
            with self.zf.open(info) as fp:
                counted = _Bounded(fp, min(info.file_size, MAX_HEADER_BYTES))
                version = npy_format.read_magic(counted)
                stage = "header"
                if version == (1, 0):
                    shape, fortran, dtype = npy_format.read_array_header_1_0(
                        counted, max_header_size=MAX_HEADER_BYTES)
                elif version == (2, 0):
                    shape, fortran, dtype = npy_format.read_array_header_2_0(
                        counted, max_header_size=MAX_HEADER_BYTES)
        except _DAMAGE as exc:
            if isinstance(exc, (zipfile.BadZipFile, EOFError, zlib.error)):
                raise self.fail(member, f"its data is damaged ({exc})") from exc
            if stage == "magic":
                raise self.fail(member, f"not a .npy array ({exc})") from exc
            raise self.fail(member, f"an unreadable .npy header, or one longer than "
                                    f"{MAX_HEADER_BYTES} bytes ({exc})") from exc
        if version not in ((1, 0), (2, 0)):
            raise self.fail(member, f".npy format version {version[0]}.{version[1]}; model "
                                    f"files use 1.0 or 2.0")
        header = _Header(dtype, tuple(shape), fortran, counted.count)
        if dtype.hasobject:
            raise self.fail(member, f"holds Python objects ({_describe(header)}); model files "
                                    f"never hold pickles")
        if any(dim < 0 for dim in shape):
            raise self.fail(member, f"its header declares the shape {header.shape}")
        held = info.file_size - header.offset
        if header.nbytes != held:
            raise self.fail(member, f"its header declares {_describe(header)}, "
                                    f"{header.nbytes} bytes, but the archive holds {held} "
                                    f"bytes of data for it")
        return header

    def data(self, member: str, header: _Header) -> bytearray:
        """Exactly the member's declared data."""
        info = self.members[member]
        buffer = bytearray(header.nbytes)
        view = memoryview(buffer)
        try:
            with self.zf.open(info) as fp:
                skipped = len(fp.read(header.offset))
                got = 0
                while skipped == header.offset and got < header.nbytes:
                    chunk = fp.read(min(_CHUNK, header.nbytes - got))
                    if not chunk:
                        break
                    view[got:got + len(chunk)] = chunk
                    got += len(chunk)
                extra = fp.read(1)
        except _DAMAGE as exc:
            raise self.fail(member, f"its data is damaged ({exc})") from exc
        if skipped != header.offset or got != header.nbytes or extra:
            raise self.fail(member, f"holds {'more' if extra else 'fewer'} bytes of data than "
                                    f"the {header.nbytes} its header declares")
        return buffer

    def array(self, member: str, header: _Header) -> np.ndarray:
        flat = np.frombuffer(self.data(member, header), header.dtype)
        return flat.reshape(header.shape, order="F" if header.fortran else "C")

    def activation(self, header: _Header) -> str:
        raw = bytes(self.data("activation", header))
        try:
            text = raw.decode("utf-32-le")
        except UnicodeDecodeError as exc:
            raise self.fail("activation", f"not a valid unicode string ({exc})") from None
        # NumPy's unicode scalars drop trailing NULs: the string np.load would give.
        return _check_activation(self.fail, text.rstrip("\0"))

    def read(self) -> ModelArrays:
        try:
            return self._read()
        finally:
            self.zf.close()

    def _read(self) -> ModelArrays:
        self.entries()
        version = 0
        if "format_version" in self.members:
            header = self.header("format_version")
            _check_int_scalar(self.fail, "format_version", header)
            version = int(self.array("format_version", header)[()])
            _check_version(self.fail, version)
        n_tables, n_banks = _check_names(self.fail, set(self.members), version)
        headers = {member: self.header(member) for member in self.members}
        _check_headers(self.fail, headers, n_tables, n_banks)
        arrays = {member: self.array(member, header) for member, header in headers.items()
                  if member != "activation"}
        activation = self.activation(headers["activation"])
        columns, positional = _check_values(self.fail, arrays)
        return ModelArrays(
            embeddings=[arrays[f"embedding_{i}"] for i in range(n_tables)],
            filters=[(arrays[f"filter_weights_{j}"], arrays[f"filter_bias_{j}"])
                     for j in range(n_banks)],
            classifier=(arrays["classifier_weights"], arrays["classifier_bias"]),
            columns=columns, positional=positional, activation=activation,
            format_version=version)


def _path_error(path, methods: str) -> TypeError:
    return TypeError(f"path must be a str, an os.PathLike or a binary file object with "
                     f"{methods}, got {type(path).__name__}")


def _file_name(path) -> str:
    name = getattr(path, "name", None)
    if isinstance(name, (str, bytes, os.PathLike)):
        return os.fsdecode(name)
    return f"<{type(path).__name__}>"


def read_model(path) -> ModelArrays:
    """The validated content of a model file.

    Parameters
    ----------
    path : str, os.PathLike or binary file object
        The file; a file object needs ``read``, ``seek`` and ``tell``, and is read from
        its start.

    Returns
    -------
    ModelArrays
        Plain NumPy arrays and fields, each as :func:`write_model` wrote it.

    Raises
    ------
    ModelFileError
        On anything in the file that is not a model :func:`write_model` could have written:
        not a ZIP archive (an empty file, a bare ``.npy``, a truncated archive), an entry
        that is duplicated, misnamed, encrypted, compressed other than by deflate, or larger
        than the archive warrants, a missing or unknown member, a dtype outside the
        allow-list, a shape that does not fit the others, a header whose declared size is not
        what the archive holds, a value out of range, or an unknown format version.  The
        message names the file and, but for the archive as a whole, the member.
    TypeError
        On a ``path`` of another type, or a file object opened in text mode.
    FileNotFoundError
        On a file that does not exist.
    """
    if isinstance(path, (str, os.PathLike)):
        name = os.fsdecode(os.fspath(path))
        with open(path, "rb") as fp:
            return _Reader(name, fp).read()
    if isinstance(path, io.TextIOBase) or not all(
            callable(getattr(path, method, None)) for method in ("read", "seek", "tell")):
        raise _path_error(path, "read, seek and tell")
    return _Reader(_file_name(path), path).read()


# -- writing ------------------------------------------------------------------------------

def write_model(path, embeddings: Sequence, filters: Sequence, classifier, *,
                columns: Sequence[int], positional: bool, activation: str) -> None:
    """Write a model file (format :data:`FORMAT_VERSION`) with :func:`numpy.savez`.

    Parameters
    ----------
    path : str, os.PathLike or binary file object
        Where to write; as with :func:`numpy.savez`, ``.npz`` is appended to a name that
        does not end with it.  A file object needs ``write`` and ``seek``.
    embeddings : sequence of ndarray
        The ``(vocab_i, dim_i)`` tables.
    filters : sequence of (ndarray, ndarray)
        Each bank's ``(channels_j, h_j, D)`` weights and ``(channels_j,)`` biases.
    classifier : (ndarray, ndarray)
        ``(classes, sum(channels_j))`` weights and ``(classes,)`` biases.
    columns : sequence of int
        The id column of each table.
    positional : bool
        Whether the positional encoding is added.
    activation : str
        A key of ``suite.registry.ACTIVATIONS``.

    Raises
    ------
    ModelFileError
        On arrays or fields that do not make a model file (the same rules as
        :func:`read_model`); nothing is written then.
    TypeError
        On a ``path`` of another type.
    """
    if isinstance(path, (str, os.PathLike)):
        name = os.fsdecode(os.fspath(path))
    elif not all(callable(getattr(path, method, None)) for method in ("write", "seek")):
        raise _path_error(path, "write and seek")
    else:
        name = _file_name(path)

    def fail(member, problem):
        return ModelFileError(name, member, problem)

    def little(array):
        array = np.asarray(array)
        return array.astype(array.dtype.newbyteorder("<"), copy=False)

    members = {"format_version": np.array(FORMAT_VERSION, "<i8"),
               "columns": np.array([int(c) for c in columns], "<i8").reshape(-1),
               "positional": np.array(bool(positional)),
               "activation": little(np.array(str(activation)))}
    for i, table in enumerate(embeddings):
        members[f"embedding_{i}"] = little(table)
    for j, (weights, bias) in enumerate(filters):
        members[f"filter_weights_{j}"], members[f"filter_bias_{j}"] = little(weights), little(bias)
    members["classifier_weights"], members["classifier_bias"] = map(little, classifier)
    n_tables, n_banks = _check_names(fail, set(members), FORMAT_VERSION)
    _check_headers(fail, {k: _Header(a.dtype, a.shape) for k, a in members.items()},
                   n_tables, n_banks)
    _check_values(fail, members)
    _check_activation(fail, str(members["activation"][()]))
    np.savez(path, **members)
