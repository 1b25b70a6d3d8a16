"""``python -m suite history``: run, merge and check asv results across commits."""
from __future__ import annotations

import argparse
import os
import sys
from typing import List, Optional

EXIT_STATUS = """exit status:
  0  run: every commit ran; merge: merged; check: no problem found
  1  run: a commit failed (asv recorded it) or was lost; merge: conflicting results
     (nothing written); check: a control series moves or a toolchain mismatch
  2  bad arguments, a missing extra, a results directory that cannot be read:
     one line, before any work"""
RUN_HELP = """Build and count every commit of RANGE, one Dask task per commit, and write
asv's result files here (asv publish shows them).  Counts are filed under a machine
named after the toolchain (compiler, Python, NumPy, SciPy, Cython, the C library,
valgrind, the BLAS and kernel build valgrind runs); workers whose toolchain differs
from this host's are refused.  Commits already counted for this toolchain are skipped."""


def add_parser(commands) -> argparse.ArgumentParser:
    """Add ``history`` and its commands to the subparsers ``commands``."""
    from suite.history._results import CONTROL_RATIO
    from suite.history._run import DEFAULT_BENCH

    history = commands.add_parser(
        "history", help="benchmarks across commits on a Dask cluster: run, merge, check",
        description="asv's benchmarks across the project's history: count commits on a "
                    "Dask cluster (run), join results directories (merge), find control "
                    "series that move (check).  docs/history.md is the manual.",
        epilog=EXIT_STATUS, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = history.add_subparsers(dest="history_command", metavar="COMMAND", required=True)
    run = sub.add_parser("run", help="count commits, one Dask task each", description=RUN_HELP,
                         epilog=EXIT_STATUS, formatter_class=argparse.RawDescriptionHelpFormatter)
    run.add_argument("ranges", nargs="*", metavar="RANGE",
                     help="as asv run takes it: ALL, NEW, EXISTING, A..B, HASHFILE:path, "
                          "hashes or branches (default: the configured branches' heads)")
    where = run.add_mutually_exclusive_group()
    where.add_argument("--workers", metavar="N", help="start a LocalCluster of N "
                       "single-threaded workers on this host (default 2)")
    where.add_argument("--scheduler", metavar="ADDRESS",
                       help="use the workers of the Dask scheduler at ADDRESS "
                            "(tcp://host:8786)")
    run.add_argument("--bench", default=DEFAULT_BENCH, metavar="REGEX",
                     help=f"asv's --bench (default {DEFAULT_BENCH!r}: the instruction counts)")
    run.add_argument("--results", metavar="DIR",
                     help="results directory (default: asv.conf.json's results_dir)")
    run.add_argument("--retries", default="2", metavar="K",
                     help="run a commit whose task fails or loses its worker up to K more "
                          "times (default 2)")
    run.add_argument("--steps", metavar="N", help="only N commits, evenly spread over RANGE")
    run.add_argument("--config", default="asv.conf.json", metavar="PATH",
                     help="asv's configuration (default asv.conf.json)")
    run.add_argument("--no-progress", action="store_true", help="no progress bar")
    merge = sub.add_parser("merge", help="join results directories",
                           description="Join results directories (sharded CI jobs, several "
                                       "runners): identical results are fine, the same "
                                       "commit and toolchain with different counts is "
                                       "refused, machines stay apart.",
                           epilog=EXIT_STATUS,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
    merge.add_argument("sources", nargs="+", metavar="DIR", help="results directories")
    merge.add_argument("--into", required=True, metavar="DIR",
                       help="the results directory to merge into (made if missing)")
    check = sub.add_parser(
        "check", help="find control series that move, and toolchain mismatches",
        description="Read a results directory and report the control series (the "
                    "scipy.signal and NumPy references, the same code at every commit) "
                    f"whose slowest commit is more than {CONTROL_RATIO}x its fastest, "
                    "widened by their samples' spread, and counted results whose machine "
                    "is not their toolchain's.",
        epilog=EXIT_STATUS, formatter_class=argparse.RawDescriptionHelpFormatter)
    check.add_argument("--results", metavar="DIR",
                       help="results directory (default: asv.conf.json's results_dir, "
                            "else .asv/results)")
    return history


def _error(message: str) -> int:
    print(f"python -m suite history: error: {message}", file=sys.stderr)
    return 2


def _count(option: str, text: Optional[str], lowest: int) -> int:
    """``text`` as an integer of at least ``lowest``, or ValueError naming ``option``."""
    try:
        value = int(text)
    except (TypeError, ValueError):
        raise ValueError(f"{option}: expected an integer, got {text!r}") from None
    if value < lowest:
        raise ValueError(f"{option}: must be at least {lowest}, got {value}")
    return value


def _default_results() -> str:
    import json

    try:
        with open("asv.conf.json") as f:
            return json.load(f).get("results_dir", ".asv/results")
    except (OSError, ValueError):
        return ".asv/results"


def _run(args: argparse.Namespace) -> int:
    from suite import history

    try:
        workers = None if args.workers is None else _count("--workers", args.workers, 1)
        retries = _count("--retries", args.retries, 0)
        steps = None if args.steps is None else _count("--steps", args.steps, 1)
    except ValueError as error:
        return _error(str(error))
    need = history.missing()
    if need:
        return _error(f"history run needs {', '.join(need)}: pip install "
                      "'textcnn-suite[history]'")
    if not os.path.isfile(args.config):
        return _error(f"--config: no asv configuration at {args.config!r}")
    if args.results is not None and os.path.exists(args.results) and not os.path.isdir(
            args.results):
        return _error(f"--results: {args.results!r} is not a directory")
    import re

    try:
        re.compile(args.bench)
    except re.error as error:
        return _error(f"--bench: not a regular expression: {error}")
    if args.scheduler is not None and "://" not in args.scheduler and ":" not in args.scheduler:
        return _error(f"--scheduler: expected an address such as tcp://host:8786, got "
                      f"{args.scheduler!r}")
    from suite.history._run import HistoryError
    from suite.history._worker import FORWARDED

    env = {k: os.environ[k] for k in FORWARDED if k in os.environ}
    try:
        summary = history.run(args.ranges, workers=workers, scheduler=args.scheduler,
                              bench=args.bench, results_dir=args.results, retries=retries,
                              steps=steps, config=args.config, env=env,
                              progress=not args.no_progress)
    except HistoryError as error:
        return _error(str(error))
    print(summary.format())
    return 1 if summary.failed or summary.lost else 0


def main(args: argparse.Namespace) -> int:
    """Run the ``history`` command ``args`` gives; its exit status."""
    from suite.history import _results

    if args.history_command == "run":
        return _run(args)
    if args.history_command == "merge":
        for source in args.sources:
            if not os.path.isdir(source):
                return _error(f"DIR: {source!r} is not a directory")
        if os.path.exists(args.into) and not os.path.isdir(args.into):
            return _error(f"--into: {args.into!r} is not a directory")
        try:
            _results.merge(args.sources, args.into)
        except _results.ResultsError as error:
            print(f"python -m suite history merge: refused, nothing written: {error}",
                  file=sys.stderr)
            return 1
        return 0
    results = args.results or _default_results()
    try:
        problems = _results.check(results)
    except _results.ResultsError as error:
        return _error(f"--results: {error}")
    for line in problems:
        print(line)
    found = len(_results.machines(results))
    print(f"checked {results}: {found} machine{'s' if found != 1 else ''}, "
          + (f"{len(problems)} problems" if problems else "no problem found"))
    return 1 if problems else 0


def parse(argv: List[str]) -> argparse.Namespace:
    """Parse ``history`` arguments alone (for tests)."""
    parser = argparse.ArgumentParser(prog="python -m suite")
    add_parser(parser.add_subparsers(dest="command"))
    return parser.parse_args(["history", *argv])
