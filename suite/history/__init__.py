"""The benchmarks across the project's history, spread over a Dask cluster.

``python -m suite history run`` builds and counts one commit per Dask task (a
``LocalCluster`` by default, any scheduler's workers with ``--scheduler``) and files the
result files in asv's results directory, so that ``asv publish`` shows them; ``merge``
joins results directories of sharded jobs or several runners; ``check`` reports control
series that move and toolchain mismatches.  Instruction counts are the same however many
counts run beside them, so they may be spread; they are filed under a machine named after
their toolchain (``machine_name``), so counts of different toolchains never share a
series.  docs/history.md is the manual.

``run`` needs the extra ``history`` (``pip install 'textcnn-suite[history]'``: Dask,
distributed and asv); ``merge`` and ``check`` need nothing more than the package.
"""
from suite.history._results import CONTROLS, ResultsError, check, merge
from suite.history._toolchain import FIELDS, ToolchainError, differences, machine_name, probe

__all__ = ["CONTROLS", "FIELDS", "ResultsError", "ToolchainError", "check", "differences",
           "machine_name", "merge", "probe", "run"]

#: The modules ``run`` needs, with the distribution that gives each.
NEEDS = {"dask": "dask", "distributed": "distributed", "asv": "asv"}


def missing() -> list:
    """The distributions ``run`` needs that cannot be imported."""
    import importlib

    found = []
    for module, dist in NEEDS.items():
        try:
            importlib.import_module(module)
        except ImportError:
            found.append(dist)
    return found


def run(*args, **kwargs):
    """``_run.run``: the commits of a range, one Dask task each (see its docstring)."""
    from suite.history._run import run as _run

    return _run(*args, **kwargs)
