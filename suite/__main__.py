"""Command line: ``python -m suite run`` checks and times every variant on this machine."""
from __future__ import annotations

import argparse
import importlib.util
import os
import sys
from typing import List, Optional

from suite.registry import CONV_POOL, DTYPES, FEATURE_MAP, POOL
from suite.workloads import INTENT, WORKLOADS

EXIT_STATUS = """exit status:
  0  every selected variant passed its check against the references
  1  a variant FAILED its check (it is reported, and not timed)
  2  bad arguments, an output file that cannot be written, or --plot without
     matplotlib: reported in one line before anything is measured"""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m suite",
        description="Cython text-CNN kernels: check and benchmark every registered variant.",
        epilog=EXIT_STATUS, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    run = commands.add_parser(
        "run", help="check every variant against the references, then time it",
        description="Check each selected variant against scipy.signal / NumPy, then time it "
                    "with correlate2d (and PyTorch when installed) on one thread; print a "
                    "table with GFLOP/s, % of this machine's GEMM peak and speedups.",
        epilog=EXIT_STATUS, formatter_class=argparse.RawDescriptionHelpFormatter)
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


def _unwritable(path: str) -> Optional[str]:
    """Why ``path`` cannot be written, or None: tried by opening it, before any work.

    The file is opened for appending, so an existing file is left as it is; one that
    did not exist is removed again.
    """
    if os.path.isdir(path):
        return "is a directory"
    existed = os.path.exists(path)
    try:
        with open(path, "a"):
            pass
    except OSError as error:
        return error.strerror or str(error)
    if not existed:
        os.remove(path)
    return None


def main(argv: Optional[List[str]] = None) -> int:
    """Entry point of ``python -m suite`` and ``textcnn-suite``; returns the exit status.

    Returns 0 when every selected variant passed its check, 1 when one FAILED it.  Bad
    arguments, an output file that cannot be written and ``--plot`` without matplotlib
    exit with 2 and a one-line message, before anything is measured.
    """
    parser = _parser()
    args = parser.parse_args(argv)
    for option, path in (("--json", args.json), ("--plot", args.plot)):
        reason = path is not None and _unwritable(path)
        if reason:
            print(f"{parser.prog}: error: {option}: cannot write {path!r}: {reason}",
                  file=sys.stderr)
            return 2
    if args.plot and importlib.util.find_spec("matplotlib") is None:
        print(f"{parser.prog}: error: --plot needs matplotlib "
              "(pip install 'textcnn-suite[plot]')", file=sys.stderr)
        return 2
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
