"""What a report records about where it ran: the machine, the libraries and the build."""
from __future__ import annotations

import os
import platform
from typing import Dict, Optional

import numpy as np

import suite

__all__ = ["environment", "build", "ISA_CAPS"]

#: Environment variables that cap an instruction set: of the kernels (``SUITE_NO_AVX512``,
#: ``SUITE_NO_AVX2``) or of what they are compared with (PyTorch's own kernels, oneDNN,
#: MKL, OpenBLAS, NumPy).  Set together they run an AVX-512 machine as an AVX2 one
#: (``docs/performance-avx2.md``); a report records those that are set.
ISA_CAPS = ("SUITE_NO_AVX512", "SUITE_NO_AVX2", "ATEN_CPU_CAPABILITY", "ONEDNN_MAX_CPU_ISA",
            "MKL_ENABLE_INSTRUCTIONS", "OPENBLAS_CORETYPE", "NPY_DISABLE_CPU_FEATURES")


def _version(module: str) -> Optional[str]:
    try:
        from importlib.metadata import version
        return version(module)
    except Exception:
        return None


def _cpu_model() -> Optional[str]:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or None


def build() -> Optional[dict]:
    """The commit this build of ``suite`` was made from, recorded by ``setup.py``.

    Returns
    -------
    dict or None
        ``{"commit": <40 hex digits>, "dirty": bool}``; ``dirty`` says whether tracked
        files differed from that commit at build time.  None when the build was made
        outside a git checkout.
    """
    try:
        from suite import version
    except ImportError:  # built by something other than setup.py
        return None
    if not version.git_revision:
        return None
    return {"commit": version.git_revision, "dirty": version.dirty}


def environment(torch=None) -> Dict[str, object]:
    """Where a report ran: the machine, the libraries, the kernels' build and its commit.

    Parameters
    ----------
    torch : module, optional
        PyTorch, when the report compared with it (its version is recorded).

    Returns
    -------
    dict
        ``"machine"`` (platform, CPU model, cores this process may run on, Python),
        ``"versions"`` of the libraries, ``"threadpools"`` (the BLAS and OpenMP libraries
        threadpoolctl finds), ``"isa"``, the build of the kernels in use
        (``suite._runtime.ISA``: ``"avx512"``, ``"avx2+fma"`` or ``"baseline"``), and
        ``"git"``, the commit of the build (:func:`build`), ``"isa_caps"``, the variables
        of ``ISA_CAPS`` that are set, and ``"torch_isa"``, the instruction set PyTorch's
        own kernels use (``torch.backends.cpu.get_cpu_capability()``, None without
        PyTorch).  Reports written before an entry have none.
    """
    from threadpoolctl import threadpool_info
    from suite import _runtime
    from suite.registry import default_threads
    return {
        "machine": {"platform": platform.platform(), "cpu": _cpu_model(),
                    "cores": default_threads(), "python": platform.python_version()},
        "versions": {"textcnn-suite": suite.__version__, "numpy": np.__version__,
                     "scipy": _version("scipy"), "Cython": _version("Cython"),
                     "threadpoolctl": _version("threadpoolctl"),
                     "torch": None if torch is None else torch.__version__,
                     "onnxruntime": _version("onnxruntime")},
        "threadpools": threadpool_info(),
        "isa": _runtime.ISA,
        "git": build(),
        "isa_caps": {name: os.environ[name] for name in ISA_CAPS if os.environ.get(name)},
        "torch_isa": _torch_isa(torch),
    }


def _torch_isa(torch) -> Optional[str]:
    try:
        return str(torch.backends.cpu.get_cpu_capability())
    except AttributeError:  # no PyTorch, or one older than 2.0
        return None


