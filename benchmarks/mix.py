"""The executed instruction mix of the kernel's functions: how much of it is vector arithmetic.

callgrind with ``--dump-instr=yes`` gives the number of times each instruction address ran;
``objdump -d`` of the shared object gives the instruction at each address.  Together they
say, per function, how many of the executed floating-point instructions were packed (by
register width: 512, 256 or 128 bits) and how many scalar, and how many floating-point
operations the function executed per instruction (a fused multiply-add is two per lane).

Only the objects asked about are disassembled (``Disassembly``): the project's own compiled
modules, a few hundred kilobytes, in a fraction of a second.

The kinds (``classify``):

* ``packed512``, ``packed256``, ``packed128``: an SSE/AVX instruction on packed single or
  double values (mnemonic ending ``ps``/``pd``, or a broadcast of one value to a vector),
  by the widest vector register among its operands (``zmm``, ``ymm``, ``xmm``);
* ``scalar``: one on a single value (``ss``/``sd``);
* anything else (integer, address arithmetic, branches, integer vectors) is not counted
  as floating-point.

A function's mix counts its floating-point *arithmetic* instructions by kind (those that
perform operations: add, subtract, multiply, fused multiply-add, divide, square root,
minimum, maximum, reciprocal; not the moves, broadcasts, shuffles, compares and logic that
serve them), so that its packed share (``packed_share``: packed over all of them) says
whether the arithmetic executed is vector arithmetic: a loop the compiler vectorises runs
``vfmadd231ps %ymm``, the same loop left scalar ``vfmadd231ss``, while both may load and
broadcast with packed moves.
"""
import re
import subprocess

#: The kinds of floating-point instruction, widest first.
KINDS = ("packed512", "packed256", "packed128", "scalar")

_WIDTH = {"zmm": 512, "ymm": 256, "xmm": 128}
_PREFIXES = {"rep", "repz", "repe", "repnz", "repne", "lock", "notrack", "bnd", "data16",
             "cs", "ds", "es", "ss", "fs", "gs", "{vex}", "{evex}", "{vex3}"}
_FMA = ("fmadd", "fmsub", "fnmadd", "fnmsub")
_ARITHMETIC = {"add", "sub", "mul", "div", "sqrt", "min", "max", "rcp", "rsqrt", "hadd",
               "hsub", "addsub"}
_REGISTER = re.compile(r"%([xyz]mm)\d+")
_LINE = re.compile(r"^\s*([0-9a-f]+):\t(.*)$")


def classify(mnemonic, operands):
    """The kind of one instruction and its floating-point operations.

    Parameters
    ----------
    mnemonic : str
        As ``objdump`` prints it (AT&T syntax), e.g. ``"vfmadd231ps"``.
    operands : str
        Its operands, e.g. ``"%ymm3,%ymm12,%ymm11"``.

    Returns
    -------
    (str or None, int)
        One of ``KINDS`` (``None`` for an instruction that is not floating-point) and the
        floating-point operations it performs: one per lane for an add, subtract,
        multiply, divide, square root, minimum, maximum or reciprocal, two for a fused
        multiply-add, none for moves, shuffles, compares and logic.
    """
    widths = [_WIDTH[r] for r in _REGISTER.findall(operands)]
    if not widths:
        return None, 0
    base = mnemonic[1:] if mnemonic.startswith("v") else mnemonic
    if base.startswith("p") and not base.startswith("perm"):
        return None, 0  # integer vector instructions (pabsd, paddd, ...)
    broadcast = base.startswith("broadcast") and base[-2:] in ("ss", "sd")
    suffix = base[-2:]
    if suffix not in ("ps", "pd", "ss", "sd"):
        return None, 0
    if suffix in ("ss", "sd") and not broadcast:
        kind, lanes = "scalar", 1
    else:
        width = max(widths)
        kind = f"packed{width}"
        lanes = width // (32 if suffix in ("ps", "ss") else 64)
    operation = base[:-2]
    if operation.startswith(_FMA):
        return kind, 2 * lanes
    if operation in _ARITHMETIC:
        return kind, lanes
    return kind, 0


def disassemble(path, objdump="objdump"):
    """``{address: (kind, flops)}`` of every floating-point instruction of object ``path``.

    Raises
    ------
    RuntimeError
        When ``objdump`` fails (not installed, not an object file).
    """
    try:
        proc = subprocess.run([objdump, "-d", "-w", "--no-show-raw-insn", path],
                              capture_output=True, text=True, check=False)
    except OSError as e:
        raise RuntimeError(f"cannot run {objdump!r} (binutils) on {path}: {e}") from e
    if proc.returncode != 0:
        raise RuntimeError(f"{objdump} -d {path} failed: {proc.stderr.strip()[-2000:]}")
    table = {}
    for line in proc.stdout.splitlines():
        match = _LINE.match(line)
        if match is None:
            continue
        words = match.group(2).split(None, 1)
        while len(words) == 2 and words[0] in _PREFIXES:
            words = words[1].split(None, 1)
        if not words or words[0] in _PREFIXES:
            continue
        operands = words[1].split("#", 1)[0] if len(words) == 2 else ""
        kind, flops = classify(words[0], operands)
        if kind is not None:
            table[int(match.group(1), 16)] = (kind, flops)
    return table


class Disassembly:
    """``disassemble`` of each object asked for, once each."""

    def __init__(self, objdump="objdump"):
        self.objdump = objdump
        self._tables = {}

    def __call__(self, path):
        if path not in self._tables:
            self._tables[path] = disassemble(path, self.objdump)
        return self._tables[path]


def empty():
    """A mix with nothing executed: every kind, ``flops`` and ``instructions`` at 0."""
    return dict.fromkeys((*KINDS, "flops", "instructions"), 0)


def function_mix(costs, table):
    """The mix of one function from its executed instruction addresses.

    Parameters
    ----------
    costs : dict
        ``{address: times executed}`` of the function's instructions.
    table : dict
        ``disassemble`` of the function's object.

    Returns
    -------
    dict
        Executed floating-point arithmetic instructions (those with operations: not
        moves, shuffles, compares or logic) of each of ``KINDS``, executed floating-point
        operations (``"flops"``) and all executed instructions (``"instructions"``).
    """
    mix = empty()
    for address, n in costs.items():
        mix["instructions"] += n
        kind, flops = table.get(address, (None, 0))
        if flops:
            mix[kind] += n
            mix["flops"] += n * flops
    return mix


def add(total, mix):
    """Add ``mix`` into ``total`` (both as ``function_mix`` returns them); ``total``."""
    for key, value in mix.items():
        total[key] = total.get(key, 0) + value
    return total


def floating_point(mix):
    """The floating-point arithmetic instructions of ``mix``, of every kind."""
    return sum(mix.get(kind, 0) for kind in KINDS)


def packed_share(mix):
    """Packed over all floating-point arithmetic instructions of ``mix``; ``None`` without
    any."""
    fp = floating_point(mix)
    return None if fp == 0 else (fp - mix.get("scalar", 0)) / fp


def flops_per_instruction(mix):
    """Executed floating-point operations per executed instruction of ``mix``."""
    return mix["flops"] / mix["instructions"] if mix.get("instructions") else 0.0


_SEGMENT = re.compile(r"(\d+)")


def demangle(name):
    """A readable name of a function Cython generated, e.g. ``_kernels_avx2.tiles[0]``.

    Cython names a ``cdef`` function ``__pyx_f_`` (a Python function's body ``__pyx_pf_``
    and wrapper ``__pyx_pw_``, followed by a number) and then its module's dotted path and
    its own name, each part of the path prefixed by its length and followed by ``_``
    (``5suite_13_kernels_avx2_tiles``); a fused specialisation starts ``__pyx_fuse_N``, shown as
    ``[N]`` (the N-th type of the fused type: ``float`` before ``double`` for
    ``floating``).  Other names are returned as they are.
    """
    fuse = ""
    match = re.match(r"^((?:__pyx_fuse_\d+)+)(__pyx_p?[fw]_.*)$", name)
    if match:
        fuse = "[" + ",".join(re.findall(r"\d+", match.group(1))) + "]"
        name = match.group(2)
    prefix = next((p for p in ("__pyx_f_", "__pyx_pf_", "__pyx_pw_") if name.startswith(p)),
                  None)
    if prefix is None:
        return name + fuse
    rest, parts = name[len(prefix):], []
    while True:
        match = _SEGMENT.match(rest)
        if match is None:
            break
        length = int(match.group(1))
        start = match.end()
        if length <= 0 or rest[start + length:start + length + 1] != "_":
            break
        parts.append(rest[start:start + length])
        rest = rest[start + length + 1:]
    parts = [p for p in parts if p != "suite"]
    if prefix != "__pyx_f_":
        rest = rest.lstrip("0123456789")  # the Python function's number in its module
    return ".".join([*parts, rest]) + fuse if parts and rest else name + fuse
