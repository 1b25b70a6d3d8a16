"""asv results directories: filing, splitting, merging and checking result files.

An asv results directory holds ``benchmarks.json`` (the suite that ran) and a directory
per machine, with its ``machine.json`` and one file per commit and environment,
``<hash[:8]>-<environment>.json``, whose ``results`` give each benchmark's columns
(``result_columns``: the values first, then the parameters, the version, the times and,
for timings, the statistics of the samples).

The machines of counted runs (their ``machine.json`` has a ``toolchain``) are named after
their toolchain (``_toolchain.machine_name``); every other machine is a real one.
"""
from __future__ import annotations

import json
import math
import os
import re
import statistics
from typing import Dict, Iterable, Iterator, List, Mapping, Optional, Tuple

#: The ``unit`` asv records for the instruction-count benchmarks.
COUNT_UNIT = "instructions"
#: The control series: benchmarks whose code and inputs are the same at every commit (the
#: scipy.signal and NumPy references), so that their values must not move with the commit.
CONTROLS = re.compile(r"\.(time_correlate2d|time_numpy_\w+)$")
#: A control moves when its slowest commit over its fastest exceeds this ratio, widened
#: by ``SPREAD_FACTOR`` times the largest relative interquartile range of its samples.
#: Timings of one process against another on a shared machine differ by 10-30%: half as
#: much again is not noise.  (The values asv records are medians.)
CONTROL_RATIO = 1.5
SPREAD_FACTOR = 4.0
#: Benchmarks whose counts take the interpreter's and the allocator's work in, which land a
#: little differently from process to process (docs/gate.md): where the memory of the
#: counting process lies depends on its environment and paths.  Two results of one commit
#: agree when they are within ``INCLUSIVE_TOLERANCE`` of each other, or
#: ``INCLUSIVE_SLACK`` instructions for the smallest cases (up to 2,700 instructions of
#: 170,000 between a serial asv run and a Dask worker's).  The kernel's own counts must be
#: equal.
INCLUSIVE = re.compile(r"\.track_inclusive_instructions$")
INCLUSIVE_TOLERANCE = 0.005
INCLUSIVE_SLACK = 5000
#: The kernel's own counts of one commit agree within this fraction: the paths through
#: OpenBLAS (``blas``, and ``auto`` where it picks it) follow where its buffers lie, and
#: a serial asv run and a Dask worker counted them up to 1,500 instructions in 2.7 million
#: apart.  Every other kernel count was equal.
KERNEL_TOLERANCE = 0.001


class ResultsError(ValueError):
    """A results directory that cannot be read, or results that cannot be merged."""


def load_json(path: str) -> dict:
    """One JSON file of a results directory, or ``ResultsError`` naming it."""
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except (OSError, ValueError) as error:
        raise ResultsError(f"{path}: cannot be read as JSON: {error}") from None
    if not isinstance(data, dict):
        raise ResultsError(f"{path}: not an asv results file (not a JSON object)")
    return data


def write_json(path: str, data: Mapping) -> None:
    """Write ``data`` to ``path`` whole: a reader never sees half a file."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    temporary = path + ".part"
    with open(temporary, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=4, sort_keys=True)
        f.write("\n")
    os.replace(temporary, path)


def machines(results_dir: str) -> Dict[str, dict]:
    """The machines of a results directory: name -> its ``machine.json``."""
    found = {}
    if not os.path.isdir(results_dir):
        return found
    for name in sorted(os.listdir(results_dir)):
        path = os.path.join(results_dir, name, "machine.json")
        if os.path.isfile(path):
            found[name] = load_json(path)
    return found


def result_files(results_dir: str, machine: str) -> Dict[str, str]:
    """The result files of one machine: file name -> path."""
    directory = os.path.join(results_dir, machine)
    if not os.path.isdir(directory):
        return {}
    return {name: os.path.join(directory, name) for name in sorted(os.listdir(directory))
            if name.endswith(".json") and name != "machine.json"}


def commits_with_results(results_dir: str, machine: str) -> set:
    """The commits (their first 8 characters) that ``machine`` has a result file for."""
    return {name.split("-", 1)[0] for name in result_files(results_dir, machine)}


def is_counted(benchmark: str, benchmarks: Mapping) -> bool:
    """Whether ``benchmark`` is an instruction count (by its unit in benchmarks.json)."""
    return benchmarks.get(benchmark, {}).get("unit") == COUNT_UNIT


def split(result: Mapping, benchmarks: Mapping) -> Tuple[Optional[dict], Optional[dict]]:
    """A result file's counted benchmarks and its wall-clock ones, as two result files.

    Either is ``None`` when it has no benchmarks.  Each keeps the file's other fields.
    """
    parts = []
    for counted in (True, False):
        kept = {name: value for name, value in result.get("results", {}).items()
                if is_counted(name, benchmarks) == counted}
        parts.append(dict(result, results=kept) if kept else None)
    # A build that failed has no results at all: it is recorded under the counted machine.
    if parts == [None, None]:
        parts[0] = dict(result)
    return parts[0], parts[1]


def for_machine(result: Mapping, machine: str) -> dict:
    """A copy of a result file filed under ``machine``."""
    params = dict(result.get("params", {}), machine=machine)
    return dict(result, params=params)


def values(result: Mapping, benchmark: str) -> list:
    """The ``result`` column of one benchmark in a result file (one value per case)."""
    columns = result.get("result_columns", ["result"])
    row = result["results"][benchmark]
    value = row[columns.index("result")] if isinstance(row, list) else row
    return value if isinstance(value, list) else [value]


def column(result: Mapping, benchmark: str, name: str) -> Optional[list]:
    """Another column of one benchmark (``stats_q_25``...), or ``None`` if not recorded."""
    columns = result.get("result_columns", [])
    row = result["results"].get(benchmark)
    if name not in columns or not isinstance(row, list) or columns.index(name) >= len(row):
        return None
    return row[columns.index(name)]


def _same(a, b, inclusive: bool = False) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        if inclusive:
            return abs(a - b) <= max(INCLUSIVE_TOLERANCE * max(abs(a), abs(b)),
                                     INCLUSIVE_SLACK)
        return abs(a - b) <= KERNEL_TOLERANCE * max(abs(a), abs(b))
    return a == b


def same_counts(benchmark: str, a, b) -> bool:
    """Whether two values of ``benchmark`` for one commit and toolchain agree."""
    return _same(a, b, bool(INCLUSIVE.search(benchmark)))


def _cases(result: Mapping, benchmark: str) -> List[str]:
    """The parameter combinations of a benchmark's values, as ``name(a, b)`` strings."""
    params = column(result, benchmark, "params") or []
    combos: List[Tuple[str, ...]] = [()]
    for options in params:
        combos = [c + (o,) for c in combos for o in options]
    return [f"{benchmark}({', '.join(c)})" if c else benchmark for c in combos]


def conflicts(a: Mapping, b: Mapping) -> List[str]:
    """The cases whose values differ between two result files of one commit and machine.

    The counts of ``INCLUSIVE`` benchmarks differ when they are further apart than
    ``INCLUSIVE_TOLERANCE`` and ``INCLUSIVE_SLACK`` allow, the kernel's when further
    apart than ``KERNEL_TOLERANCE`` (``same_counts``).
    """
    found = []
    for benchmark in sorted(set(a.get("results", {})) & set(b.get("results", {}))):
        va, vb = values(a, benchmark), values(b, benchmark)
        cases = _cases(a, benchmark)
        if len(va) != len(vb):
            found.append(f"{benchmark}: {len(va)} cases against {len(vb)}")
            continue
        found += [f"{cases[i] if i < len(cases) else benchmark}: {x!r} against {y!r}"
                  for i, (x, y) in enumerate(zip(va, vb))
                  if not same_counts(benchmark, x, y)]
    return found


def combine(a: Mapping, b: Mapping) -> dict:
    """One result file with the benchmarks of both (for those in both, ``a``'s)."""
    results = dict(b.get("results", {}), **a.get("results", {}))
    durations = dict(b.get("durations", {}), **a.get("durations", {}))
    return dict(a, results=results, durations=durations)


def merge(sources: Iterable[str], into: str, log=print) -> Dict[str, int]:
    """Merge the results directories ``sources`` into the results directory ``into``.

    Machines stay apart.  A result file of a commit, environment and machine that
    ``into`` already has (or an earlier source gave) is merged benchmark by benchmark: a
    benchmark that only one has is taken, and one that both have must have the same
    values in every case where the machine is a counted one (``machine.json`` with a
    ``toolchain``); for a real machine's timings, the first file's are kept.

    Returns
    -------
    dict
        How many result files were ``added``, ``merged`` (given again, and combined) and
        how many machines there are.

    Raises
    ------
    ResultsError
        Before anything is written: when a source is not a results directory, when one
        machine name has two different ``machine.json``, or when two files of a counted
        machine and commit give different values, naming the commit and the case.
    """
    sources = list(sources)
    for source in sources:
        if not os.path.isdir(source):
            raise ResultsError(f"{source}: not a directory")
        if not machines(source) and not os.path.exists(os.path.join(source,
                                                                     "benchmarks.json")):
            raise ResultsError(f"{source}: not an asv results directory (no machine "
                               "directories and no benchmarks.json)")
    planned: Dict[str, dict] = {}   # path -> content to write
    machine_info: Dict[str, dict] = machines(into)
    benchmarks: dict = {}
    if os.path.exists(os.path.join(into, "benchmarks.json")):
        benchmarks = load_json(os.path.join(into, "benchmarks.json"))
    counts = {"added": 0, "merged": 0}
    for source in sources:
        if os.path.exists(os.path.join(source, "benchmarks.json")):
            benchmarks.update(load_json(os.path.join(source, "benchmarks.json")))
        for name, info in machines(source).items():
            if name in machine_info and machine_info[name] != info:
                raise ResultsError(f"machine {name}: {source} describes it differently from "
                                   "the results merged before it")
            machine_info[name] = info
            counted = "toolchain" in info
            for file_name, path in result_files(source, name).items():
                target = os.path.join(into, name, file_name)
                new = load_json(path)
                old = planned.get(target)
                if old is None and os.path.exists(target):
                    old = load_json(target)
                if old is None:
                    planned[target] = new
                    counts["added"] += 1
                    continue
                differ = conflicts(old, new)
                if differ and counted:
                    commit = new.get("commit_hash", file_name.split("-", 1)[0])
                    raise ResultsError(
                        f"commit {commit[:8]} on machine {name}: {source} gives other counts "
                        f"than the results merged before it: {differ[0]}"
                        + (f" (and {len(differ) - 1} more)" if len(differ) > 1 else ""))
                planned[target] = combine(old, new)
                counts["merged"] += 1
    for name, info in machine_info.items():
        write_json(os.path.join(into, name, "machine.json"), info)
    if benchmarks:
        write_json(os.path.join(into, "benchmarks.json"), benchmarks)
    for path, content in planned.items():
        write_json(path, content)
    counts["machines"] = len(machine_info)
    log(f"merged {len(sources)} results directories into {into}: {counts['added']} result "
        f"files added, {counts['merged']} given more than once, {counts['machines']} machines")
    return counts


def _series(results_dir: str, machine: str, benchmark_filter) -> Iterator[
        Tuple[str, str, List[Tuple[str, float, float]]]]:
    """Each (benchmark case, commit values) series of one machine.

    Yields ``(case, environment, [(commit, value, relative spread), ...])``.
    """
    by_case: Dict[Tuple[str, str], List[Tuple[str, float, float]]] = {}
    for path in result_files(results_dir, machine).values():
        result = load_json(path)
        commit = result.get("commit_hash", os.path.basename(path)[:8])
        for benchmark in result.get("results", {}):
            if not benchmark_filter(benchmark):
                continue
            q25 = column(result, benchmark, "stats_q_25")
            q75 = column(result, benchmark, "stats_q_75")
            for i, (case, value) in enumerate(zip(_cases(result, benchmark),
                                                   values(result, benchmark))):
                if not isinstance(value, (int, float)) or not value > 0:
                    continue
                spread = 0.0
                if q25 and q75 and q25[i] is not None and q75[i] is not None:
                    spread = max(0.0, (q75[i] - q25[i]) / value)
                by_case.setdefault((case, result.get("env_name", "")), []).append(
                    (commit, float(value), spread))
    for (case, env), series in sorted(by_case.items()):
        yield case, env, series


def check(results_dir: str) -> List[str]:
    """The problems of a results directory, one line each; empty when there are none.

    * A control series that moves: a benchmark of ``CONTROLS`` whose slowest commit over
      its fastest exceeds ``CONTROL_RATIO * (1 + SPREAD_FACTOR * spread)``, ``spread``
      being the largest interquartile range of its samples over its value (0 for
      results of one sample, as ``asv run --quick`` gives).
    * A toolchain mismatch: a counted machine whose name is not the one its recorded
      toolchain gives, or a result file filed under another machine than its own.

    Raises
    ------
    ResultsError
        When ``results_dir`` is not a results directory or a file in it cannot be read.
    """
    from suite.history import _toolchain

    if not os.path.isdir(results_dir):
        raise ResultsError(f"{results_dir}: not a directory")
    problems = []
    found = machines(results_dir)
    if not found:
        raise ResultsError(f"{results_dir}: no machine directories (no results)")
    for name, info in found.items():
        toolchain = _toolchain.facts(info)
        if "toolchain" in info:
            if None in toolchain.values():
                problems.append(f"toolchain mismatch: machine {name} records no complete "
                                "toolchain")
            elif _toolchain.machine_name(toolchain) != name:
                problems.append(f"toolchain mismatch: machine {name} records the toolchain "
                                f"of {_toolchain.machine_name(toolchain)}")
        for file_name, path in result_files(results_dir, name).items():
            filed = load_json(path).get("params", {}).get("machine")
            if filed != name:
                problems.append(f"toolchain mismatch: {name}/{file_name} is a result of "
                                f"machine {filed}")
        for case, _env, series in _series(results_dir, name, CONTROLS.search):
            if len(series) < 2:
                continue
            lowest = min(series, key=lambda s: s[1])
            highest = max(series, key=lambda s: s[1])
            spread = max(s[2] for s in series)
            allowed = CONTROL_RATIO * (1 + SPREAD_FACTOR * spread)
            ratio = highest[1] / lowest[1]
            if ratio > allowed:
                median = statistics.median(s[1] for s in series)
                problems.append(
                    f"control series moves: {case} on {name}: {highest[1]:.4g} at "
                    f"{highest[0][:8]} against {lowest[1]:.4g} at {lowest[0][:8]} "
                    f"({ratio:.2f}x, allowed {allowed:.2f}x; median {median:.4g} over "
                    f"{len(series)} commits)")
    return problems
