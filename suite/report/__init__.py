"""The report of ``python -m suite run``: every variant against the references, on this machine.

For each selected workload and dtype the report first checks every variant's output
against ``suite.reference`` (a wrong kernel is marked FAILED and is not timed), then times
the variants that passed together with ``scipy.signal.correlate2d`` (and PyTorch when it is
installed), sampled in turn so that their ratios are fair on a loaded machine.  The
single-thread GEMM peak measured in the same run puts each GFLOP/s figure in proportion.

``measure`` runs the checks and timings, ``environment`` records where they ran,
``peers`` makes the calls of other libraries, ``tables`` and ``plot`` present the result.
"""
from suite.report.environment import environment
from suite.report.measure import Report, Row, Settings, run, write_json
from suite.report.plot import write_plot
from suite.report.tables import format_table

__all__ = ["Row", "Settings", "Report", "run", "environment", "format_table", "write_json",
           "write_plot"]
