"""Command line: ``python -m suite run`` checks and times every variant on this machine;
``python -m suite markdown`` writes the figures of a run's JSON as Markdown tables;
``python -m suite history`` counts commits on a Dask cluster and checks the results."""
from __future__ import annotations

import argparse
import importlib.util
import os
import shlex
import sys
from typing import List, Optional

from suite.history import _cli as history_cli
from suite.registry import CONV_POOL, DTYPES, FEATURE_MAP, POOL
from suite.workloads import INTENT, WORKLOADS

EXIT_STATUS = """exit status:
  0  every selected variant passed its check against the references
  1  a variant FAILED its check (it is reported, and not timed)
  2  bad arguments, an output file that cannot be written, or --plot without
     matplotlib: reported in one line before anything is measured"""
MARKDOWN_EXIT_STATUS = """exit status:
  0  the tables were written
  2  bad arguments, a report file that cannot be read or is not the JSON of
     'python -m suite run --json', or an output file that cannot be written:
     reported in one line, and nothing is written"""
COMMANDS_EXIT_STATUS = """exit status (each command's --help gives its own):
  0  run: every selected variant passed its check; markdown: the tables were written;
     history: see python -m suite history --help
  1  run: a variant FAILED its check; history: a commit failed, a conflict, a problem
  2  bad arguments, or a file that cannot be read or written: one line, before any work"""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m suite",
        description="Cython text-CNN kernels: check and benchmark every registered variant.",
        epilog=COMMANDS_EXIT_STATUS, formatter_class=argparse.RawDescriptionHelpFormatter)
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
    run.add_argument("--json", metavar="PATH", help="write every figure, the settings and "
                     "command line, the machine, the kernels' build, library versions and "
                     "git commit to PATH (python -m suite markdown turns it into tables)")
    run.add_argument("--plot", metavar="PATH",
                     help="write a PNG of GFLOP/s per variant and workload (needs matplotlib)")
    run.add_argument("--no-progress", action="store_true", help="no progress bar")
    markdown = commands.add_parser(
        "markdown", help="write the figures of a report's JSON as Markdown tables",
        description="Write the tables of a report that 'python -m suite run --json' wrote "
                    "as Markdown (docs/performance.md), each headed by the machine, the "
                    "commit and the command that made the report.",
        epilog=MARKDOWN_EXIT_STATUS, formatter_class=argparse.RawDescriptionHelpFormatter)
    markdown.add_argument("report", metavar="REPORT.json",
                          help="the JSON file of 'python -m suite run --json'")
    markdown.add_argument("--output", metavar="PATH",
                          help="write the Markdown to PATH (default: standard output)")
    history_cli.add_parser(commands)
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


def _error(parser: argparse.ArgumentParser, message: str) -> int:
    print(f"{parser.prog}: error: {message}", file=sys.stderr)
    return 2


def _markdown(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    """``python -m suite markdown``: every argument checked before anything is written."""
    from suite.report import markdown

    reason = args.output is not None and _unwritable(args.output)
    if reason:
        return _error(parser, f"--output: cannot write {args.output!r}: {reason}")
    try:
        report = markdown.read_report(args.report)
    except markdown.ReportFileError as error:
        return _error(parser, f"REPORT.json: {error}")
    text = markdown.format_markdown(report, args.output or markdown.DEFAULT_OUTPUT)
    if args.output is None:
        sys.stdout.write(text)
    else:
        with open(args.output, "w", encoding="utf-8") as f:
            f.write(text)
    return 0


def main(argv: Optional[List[str]] = None) -> int:
    """Entry point of ``python -m suite`` and ``textcnn-suite``; returns the exit status.

    ``run`` returns 0 when every selected variant passed its check, 1 when one FAILED
    it; ``markdown`` returns 0 when it wrote the tables.  Bad arguments, a report file
    that cannot be read or is not a report, an output file that cannot be written and
    ``--plot`` without matplotlib exit with 2 and a one-line message, before anything is
    measured or written.
    """
    parser = _parser()
    words = sys.argv[1:] if argv is None else list(argv)
    args = parser.parse_args(words)
    if args.command == "markdown":
        return _markdown(parser, args)
    if args.command == "history":
        return history_cli.main(args)
    for option, path in (("--json", args.json), ("--plot", args.plot)):
        reason = path is not None and _unwritable(path)
        if reason:
            return _error(parser, f"{option}: cannot write {path!r}: {reason}")
    if args.plot and importlib.util.find_spec("matplotlib") is None:
        return _error(parser, "--plot needs matplotlib (pip install 'textcnn-suite[plot]')")
    from suite import report

    selection = {}
    if args.workload:
        selection["workloads"] = list(dict.fromkeys(args.workload))
    if args.variant:
        selection["variants"] = list(dict.fromkeys(args.variant))
    if args.dtype:
        selection["dtypes"] = list(dict.fromkeys(args.dtype))
    # Recorded in the JSON: the tables made from it say how their figures were made.
    selection["command"] = shlex.join(parser.prog.split() + words)
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
