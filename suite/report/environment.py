"""What a report records about where it ran: the machine, the libraries and the build."""
from __future__ import annotations

import platform
from typing import Dict, Optional

import numpy as np

import suite

__all__ = ["environment", "build"]


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
        ``"git"``, the commit of the build (:func:`build`).  Reports written before the
        ``"isa"`` entry have none.
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
    }


