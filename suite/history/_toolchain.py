"""What determines an instruction count, and the machine name derived from it.

callgrind counts the same instructions for the same build of the same commit wherever it
runs, as long as what builds and runs the code is the same: the compiler and its flags,
the Python and the libraries the build compiles against and calls (NumPy, SciPy, Cython,
the C library), the OpenBLAS kernel chosen under valgrind, valgrind itself, and which of
the project's kernel builds the CPU that valgrind emulates selects.  ``probe`` reads all of
them for the Python of one asv environment; ``machine_name`` turns them into the name the
counts are filed under, so that counts from different toolchains never share a series.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import shlex
import shutil
import subprocess
import sysconfig
from typing import Dict, List, Mapping

#: The facts of a toolchain, in the order they are reported.
FIELDS = ("compiler", "build_flags", "python", "libc", "numpy", "scipy", "cython", "valgrind",
          "blas_under_valgrind", "kernel_build_under_valgrind")
#: Environment variables that change what a build compiles.
FLAG_VARIABLES = ("CFLAGS", "CPPFLAGS", "LDFLAGS", "ARCHFLAGS")
#: Environment variables that change which kernel build the project selects at import.
KERNEL_VARIABLES = ("SUITE_NO_AVX512", "SUITE_NO_AVX2")
#: Prefix of the machine names of counted runs.
PREFIX = "counts"

# Run by the environment's Python under ``valgrind --tool=none``: the CPU features NumPy
# detects and the BLAS kernels OpenBLAS selects are those of the CPU valgrind emulates.
_PROBE = r"""
import json, platform, sys
try:
    from numpy._core._multiarray_umath import __cpu_features__ as features
except ImportError:
    from numpy.core._multiarray_umath import __cpu_features__ as features
import numpy, scipy, scipy.linalg, threadpoolctl
try:
    import Cython
    cython = Cython.__version__
except ImportError:
    cython = "none"
blas = sorted({"%s %s %s" % (m.get("internal_api"), m.get("version"), m.get("architecture"))
               for m in threadpoolctl.threadpool_info() if m.get("user_api") == "blas"})
print(json.dumps({
    "python": sys.version.replace("\n", " "),
    "libc": " ".join(platform.libc_ver()),
    "numpy": numpy.__version__, "scipy": scipy.__version__, "cython": cython,
    "blas": blas, "features": sorted(k for k, v in features.items() if v)}))
"""


class ToolchainError(RuntimeError):
    """A toolchain that cannot be read (no valgrind, an environment that does not start)."""


def _first_line(command: List[str]) -> str:
    try:
        proc = subprocess.run(command, capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as error:
        raise ToolchainError(f"cannot run {shlex.join(command)}: {error}") from None
    if proc.returncode != 0:
        raise ToolchainError(f"{shlex.join(command)} exited with status {proc.returncode}: "
                             f"{proc.stderr.strip()[-500:]}")
    return (proc.stdout.strip().splitlines() or [""])[0]


def compiler_command(environ: Mapping[str, str] = os.environ) -> List[str]:
    """The C compiler a build uses: ``$CC`` or Python's own, without a ccache wrapper."""
    words = shlex.split(environ.get("CC") or sysconfig.get_config_var("CC") or "cc")
    while words and os.path.basename(words[0]) in ("ccache", "sccache"):
        words = words[1:]
    return words or ["cc"]


def kernel_build(features: List[str], environ: Mapping[str, str] = os.environ) -> str:
    """The kernel build ``suite._runtime`` selects on a CPU with these NumPy features."""
    def off(name):
        return environ.get(name, "") not in ("", "0")

    has = set(features)
    if {"AVX2", "FMA3"} <= has and not off("SUITE_NO_AVX2"):
        if {"AVX512F", "AVX512VL"} <= has and not off("SUITE_NO_AVX512"):
            return "avx512"
        return "avx2"
    return "baseline"


def probe(python: str, valgrind: str = "valgrind",
          environ: Mapping[str, str] = os.environ) -> Dict[str, str]:
    """The toolchain that counts run with here, for the Python executable ``python``.

    Parameters
    ----------
    python : str
        The Python of the asv environment the counts run in.
    valgrind : str, optional
        The valgrind executable.
    environ : mapping, optional
        The environment builds run with (``CC``, the ``FLAG_VARIABLES``).

    Returns
    -------
    dict
        One string for each of ``FIELDS``.

    Raises
    ------
    ToolchainError
        When valgrind is not installed, or the environment's Python cannot report.
    """
    if shutil.which(valgrind) is None:
        raise ToolchainError(f"valgrind is not installed ({valgrind!r} is not on PATH)")
    compiler = compiler_command(environ)
    command = [valgrind, "--tool=none", "--quiet", python, "-c", _PROBE]
    try:
        proc = subprocess.run(command, capture_output=True, text=True, timeout=600,
                              env=dict(environ, OPENBLAS_NUM_THREADS="1"))
    except (OSError, subprocess.TimeoutExpired) as error:
        raise ToolchainError(f"cannot run {python} under valgrind: {error}") from None
    if proc.returncode != 0:
        raise ToolchainError(f"{python} under valgrind exited with status {proc.returncode}: "
                             f"{proc.stderr.strip()[-1000:]}")
    found = json.loads(proc.stdout.strip().splitlines()[-1])
    flags = " ".join(f"{name}={environ[name]}" for name in FLAG_VARIABLES if environ.get(name))
    return {
        "compiler": _first_line(compiler + ["--version"]),
        "build_flags": flags or "none",
        "python": found["python"],
        "libc": found["libc"] or "unknown",
        "numpy": found["numpy"],
        "scipy": found["scipy"],
        "cython": found["cython"],
        "valgrind": _first_line([valgrind, "--version"]),
        "blas_under_valgrind": "; ".join(found["blas"]) or "none",
        "kernel_build_under_valgrind": kernel_build(found["features"], environ),
    }


def digest(toolchain: Mapping[str, str]) -> str:
    """A short hash of a toolchain's facts."""
    text = json.dumps({k: toolchain[k] for k in FIELDS}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:10]


def machine_name(toolchain: Mapping[str, str]) -> str:
    """The asv machine name counts of this toolchain are filed under.

    Readable first (the compiler, Python and the kernel build valgrind runs), then a hash
    of every fact, e.g. ``counts-gcc12.2.0-py3.11.7-avx2-5f0c3a9b1e``.
    """
    version = re.search(r"(\d+\.\d+(\.\d+)?)\s*$", toolchain["compiler"])
    name = re.sub(r"[^A-Za-z0-9]+", "", (toolchain["compiler"].split() or ["cc"])[0]) or "cc"
    compiler = name + (version.group(1) if version else "")
    python = "py" + toolchain["python"].split()[0]
    return "-".join([PREFIX, compiler, python, toolchain["kernel_build_under_valgrind"],
                     digest(toolchain)])


def differences(expected: Mapping[str, str], found: Mapping[str, str]) -> List[str]:
    """The facts in which ``found`` differs from ``expected``, one line each."""
    return [f"{field}: {found.get(field, 'missing')!r} (expected {expected.get(field)!r})"
            for field in FIELDS if found.get(field) != expected.get(field)]


def machine_record(toolchain: Mapping[str, str], host: Mapping[str, str]) -> Dict[str, str]:
    """The asv machine record counts of ``toolchain`` are filed under.

    asv's fields (``os``, ``arch``, ``cpu``, ``num_cpu``, ``ram``) are those of ``host``,
    the client's; each fact has a field of its own, which ``facts`` reads back, and
    ``toolchain`` is their ``digest``.  asv's dashboard shows every field, and ``asv
    publish`` makes each a directory name of its graphs: one short value each.
    """
    record = {k: str(v) for k, v in host.items() if k != "version"}
    record.update(toolchain)
    record["machine"] = machine_name(toolchain)
    record["toolchain"] = digest(toolchain)
    return record


def facts(record: Mapping[str, str]) -> Dict[str, object]:
    """The toolchain a machine record gives (``None`` for a fact it lacks)."""
    return {field: record.get(field) for field in FIELDS}
