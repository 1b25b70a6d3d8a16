"""Command line: ``python -m suite run`` checks and times every variant on this machine."""
from __future__ import annotations

import argparse
import importlib.util
import sys
from typing import List, Optional

from suite.registry import CONV_POOL, DTYPES, FEATURE_MAP, POOL
from suite.workloads import INTENT, WORKLOADS


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m suite",
        description="Cython text-CNN kernels: check and benchmark every registered variant.")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    run = commands.add_parser(
        "run", help="check every variant against the references, then time it",
        description="Check each selected variant against scipy.signal / NumPy, then time it "
                    "with correlate2d (and PyTorch when installed) on one thread; print a "
                    "table with GFLOP/s, % of this machine's GEMM peak and speedups.")
    variant_names = sorted(set(FEATURE_MAP) | set(CONV_POOL) | set(POOL))
    workloads = list(WORKLOADS) + [INTENT.name]
    run.add_argument("--workload", action="append", choices=workloads, metavar="NAME",
                     help="run only this workload (repeatable); one of: "
                          + ", ".join(workloads) + f" ({INTENT.name}: the whole classifier)")
    run.add_argument("--variant", action="append", choices=variant_names, metavar="NAME",
                     help="run only this feature-map / fused variant or pooling method "
                          "(repeatable); one of: " + ", ".join(variant_names))
    run.add_argument("--dtype", action="append", choices=list(DTYPES),
                     help="run only this dtype (repeatable)")
    run.add_argument("--quick", action="store_true",
                     help="one sample per timing: a fast check rather than a measurement")
    run.add_argument("--json", metavar="PATH", help="write every figure, the machine, "
                     "library versions and git commit to PATH")
    run.add_argument("--plot", metavar="PATH",
                     help="write a PNG of GFLOP/s per variant and workload (needs matplotlib)")
    run.add_argument("--no-progress", action="store_true", help="no progress bar")
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    """Entry point of ``python -m suite`` and ``textcnn-suite``; returns the exit status.

    Exits with 2 and a usage message on bad arguments, 1 when a variant FAILED its check.
    """
    parser = _parser()
    args = parser.parse_args(argv)
    if args.plot and importlib.util.find_spec("matplotlib") is None:
        parser.error("--plot needs matplotlib (pip install 'textcnn-suite[plot]')")
    from suite import report

    selection = {}
    if args.workload:
        selection["workloads"] = list(dict.fromkeys(args.workload))
    if args.variant:
        selection["variants"] = list(dict.fromkeys(args.variant))
    if args.dtype:
        selection["dtypes"] = list(dict.fromkeys(args.dtype))
    settings = report.Settings.quick(**selection) if args.quick else report.Settings(**selection)
    result = report.run(settings, progress=not args.no_progress)
    print(report.format_table(result))
    if args.json:
        report.write_json(result, args.json)
    if args.plot:
        report.write_plot(result, args.plot)
    return 1 if any(r.status == "FAILED" for r in result.rows) else 0


if __name__ == "__main__":
    sys.exit(main())
