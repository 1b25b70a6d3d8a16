"""The report as Markdown: the measured figures of ``docs/performance.md``.

``python -m suite markdown REPORT.json --output docs/performance.md`` turns the JSON that
``python -m suite run --json REPORT.json`` wrote into Markdown tables, so that the figures
the documentation quotes are those a run measured, never copied by hand.  Every table is
headed by where its figures come from: the machine (CPU model, cores and the kernels'
build, ``suite._runtime.ISA``), the commit the build came from (and whether tracked files
differed from it) and the command that made the report.

Reports written before the JSON recorded the kernels' build or the command line still
read: the build is then "not recorded", and the command is rebuilt from the settings the
report does record (workloads, variants, dtypes and sampling), which the heading says.
"""
from __future__ import annotations

import json
import shlex
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

__all__ = ["ReportFileError", "read_report", "check_report", "command", "provenance",
           "format_markdown", "write_markdown", "DEFAULT_OUTPUT"]

#: What the tables call the libraries the report compares with.
PEERS = {"correlate2d": "correlate2d", "fftconvolve": "fftconvolve", "torch": "PyTorch",
         "onnxruntime": "ONNX Runtime", "numpy": "NumPy"}
#: The order of the speedup columns of the feature-map tables; others follow, sorted.
SPEEDUP_ORDER = ("correlate2d", "fftconvolve", "torch", "simd", "feature_map")

#: What :func:`command` gives for a report whose settings no command asks for.
NOT_RECORDED = "not recorded"
_TEXT_FIELDS = ("section", "workload", "variant", "dtype", "status")
_NUMBER_FIELDS = ("flops", "seconds", "gflops", "peak_percent", "p99")


class ReportFileError(ValueError):
    """A file that is not a report of ``python -m suite run --json``; the message names it."""


# -- reading -------------------------------------------------------------------------

def _json_type(value) -> str:
    for kind, name in ((bool, "a boolean"), (dict, "an object"), (list, "an array"),
                       (str, "a string"), ((int, float), "a number")):
        if isinstance(value, kind):
            return name
    return "null"


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def check_report(report, name: str) -> None:
    """Check that ``report`` has the shape of the JSON ``python -m suite run`` writes.

    Only what the tables read is checked: each row's names, thread count, status,
    figures and speedups, the GEMM peaks, and the records of the settings, machine and
    build when present.

    Parameters
    ----------
    report : object
        The parsed JSON.
    name : str
        The file it was read from, for the message.

    Raises
    ------
    ReportFileError
        Naming the file and the first entry at fault.
    """
    def fail(what):
        raise ReportFileError(f"{name!r} is not a report of 'python -m suite run --json': "
                              f"{what}")

    if not isinstance(report, dict):
        fail(f"the file holds {_json_type(report)}, not an object")
    for key, kind in (("settings", dict), ("gemm_gflops", dict), ("environment", dict),
                      ("rows", list)):
        if key not in report:
            fail(f"it has no {key!r}")
        if not isinstance(report[key], kind):
            fail(f"{key!r} is {_json_type(report[key])}, not {_json_type(kind())}")
    for dtype, peak in report["gemm_gflops"].items():
        if not _is_number(peak):
            fail(f"gemm_gflops[{dtype!r}] is {_json_type(peak)}, not a number")
    settings, env = report["settings"], report["environment"]
    if not isinstance(settings.get("command", ""), (str, type(None))):
        fail("settings['command'] is not a string")
    for key in ("workloads", "variants", "dtypes"):
        values = settings.get(key, [])
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            fail(f"settings[{key!r}] is not an array of strings")
    for key, kinds in (("machine", (dict, type(None))), ("git", (dict, type(None))),
                       ("isa", (str, type(None))), ("versions", (dict, type(None))),
                       ("isa_caps", (dict, type(None))), ("torch_isa", (str, type(None))),
                       ("threadpools", (list, type(None)))):
        if not isinstance(env.get(key), kinds):
            fail(f"environment[{key!r}] is {_json_type(env.get(key))}")
    if not all(isinstance(v, str) for v in (env.get("isa_caps") or {}).values()):
        fail("environment['isa_caps'] has a value that is not a string")
    for i, row in enumerate(report["rows"]):
        where = f"rows[{i}]"
        if not isinstance(row, dict):
            fail(f"{where} is {_json_type(row)}, not an object")
        for key in _TEXT_FIELDS:
            if not isinstance(row.get(key), str):
                fail(f"{where}[{key!r}] is {'missing' if key not in row else _json_type(row[key])}"
                     ", not a string")
        threads = row.get("threads")
        if not (isinstance(threads, int) and not isinstance(threads, bool) and threads >= 1):
            fail(f"{where}['threads'] is not a positive integer")
        for key in _NUMBER_FIELDS:
            if row.get(key) is not None and not _is_number(row[key]):
                fail(f"{where}[{key!r}] is {_json_type(row[key])}, not a number or null")
        speedups = row.get("speedups", {})
        if not isinstance(speedups, dict) or not all(_is_number(v) for v in speedups.values()):
            fail(f"{where}['speedups'] is not an object of numbers")


def read_report(path: str) -> dict:
    """The report that ``python -m suite run --json`` wrote to ``path``, checked.

    Parameters
    ----------
    path : str
        The JSON file.

    Returns
    -------
    dict
        The parsed report.

    Raises
    ------
    ReportFileError
        When the file cannot be read, is not JSON or is not shaped like a report
        (:func:`check_report`); the message names the file.
    """
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError as error:
        raise ReportFileError(f"cannot read {path!r}: {error.strerror or error}") from None
    except UnicodeDecodeError:
        raise ReportFileError(f"{path!r} is not JSON: not UTF-8 text") from None
    try:
        report = json.loads(text)
    except json.JSONDecodeError as error:
        raise ReportFileError(f"{path!r} is not JSON: {error}") from None
    check_report(report, path)
    return report


# -- where the figures come from -------------------------------------------------------

def _machine(env: dict) -> str:
    machine = env.get("machine") or {}
    cores = machine.get("cores")
    isa = env.get("isa")
    return ", ".join([
        machine.get("cpu") or "CPU not recorded",
        "cores not recorded" if cores is None else f"{cores} core{'s' if cores != 1 else ''}",
        f"kernels' build `{isa}`" if isa else "kernels' build not recorded"]) + _caps(env)


def _caps(env: dict) -> str:
    """The instruction-set caps a run had, as a clause (empty when it had none)."""
    caps = env.get("isa_caps") or {}
    if not caps:
        return ""
    shown = ", ".join(f"`{name}={value}`" for name, value in sorted(caps.items()))
    return f" (instruction sets capped: {shown})"


def _commit(env: dict, short: bool = True) -> str:
    git = env.get("git")
    if not git or not git.get("commit"):
        return "not recorded (built outside a git checkout)"
    dirty = git.get("dirty")
    if short:
        state = {True: "dirty", False: "clean"}.get(dirty, "dirty flag not recorded")
        return f"`{git['commit'][:7]}` ({state})"
    state = {True: "dirty: tracked files differed from it when the kernels were built",
             False: "clean: the kernels were built from it as committed"}.get(
                 dirty, "whether tracked files differed from it is not recorded")
    return f"`{git['commit']}` ({state})"


def command(report: dict) -> Tuple[str, bool]:
    """The command line that made ``report``, and whether the report recorded it.

    A report that did not record it gets a command that asks for its settings (the
    selection, ``--quick`` when it was sampled so); the options that change no figure
    (``--json``, ``--plot``, ``--no-progress``) cannot be told.  Returns
    ``("not recorded", False)`` when the settings match no command.
    """
    from suite.report.measure import Settings

    settings = report["settings"]
    if settings.get("command"):
        return settings["command"], True
    sampling = ("repeat", "min_time", "gemm_size")
    words = ["python", "-m", "suite", "run"]
    for candidate, flag in ((Settings(), []), (Settings.quick(), ["--quick"])):
        if all(settings.get(key) == getattr(candidate, key) for key in sampling):
            words += flag
            defaults = candidate
            break
    else:
        return NOT_RECORDED, False
    for key, option in (("workloads", "--workload"), ("variants", "--variant"),
                        ("dtypes", "--dtype")):
        chosen = settings.get(key)
        if chosen is not None and set(chosen) != set(getattr(defaults, key)):
            for value in chosen:
                words += [option, value]
    return shlex.join(words), False


def provenance(report: dict) -> str:
    """The line that heads every table: machine, commit and command of the report."""
    env = report["environment"]
    line, recorded = command(report)
    if recorded:
        shown = f"`{line}`"
    elif line == NOT_RECORDED:
        shown = "not recorded"
    else:
        shown = f"`{line}` (rebuilt from the settings: not recorded in the report)"
    return f"Machine: {_machine(env)} · Commit: {_commit(env)} · Command: {shown}"


# -- tables ------------------------------------------------------------------------------

def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _table(head: Sequence[str], body: Iterable[Sequence[str]], right: Sequence[bool]) -> str:
    """A Markdown table; the columns marked in ``right`` (numbers) right-aligned."""
    lines = ["| " + " | ".join(head) + " |",
             "| " + " | ".join("---:" if r else "---" for r in right) + " |"]
    lines += ["| " + " | ".join(_cell(c) for c in cells) + " |" for cells in body]
    return "\n".join(lines)


def _fmt(value: Optional[float], spec: str) -> str:
    return "-" if value is None else format(value, spec)


def milliseconds(row: dict) -> str:
    """A row's median time in the feature-map, pooling and width tables."""
    if row["status"] == "FAILED":
        return "FAILED"
    seconds = row.get("seconds")
    return _fmt(None if seconds is None else seconds * 1e3, ".3f")


def duration(seconds: Optional[float]) -> str:
    """A time per call of the classifier table, in us, ms or s, three digits."""
    if seconds is None:
        return "-"
    for unit, scale in (("us", 1e-6), ("ms", 1e-3)):
        if seconds < 999.5 * scale:   # what rounds to 1000 takes the next unit
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds:.2f} s"


def _threads_note(rows: List[dict]) -> str:
    threads = sorted({r["threads"] for r in rows})
    if threads == [1]:
        return "Every figure here is of one thread."
    more = ", ".join(str(t) for t in threads if t > 1)
    return (f"One thread, but for the rows whose threads column says {more}: the threaded "
            "variants asked for that many OpenMP threads (BLAS stays on one).")


def _speedup_columns(rows: List[dict]) -> List[str]:
    present = {k for r in rows for k in r.get("speedups", {})}
    return ([k for k in SPEEDUP_ORDER if k in present]
            + sorted(present - set(SPEEDUP_ORDER)))


def _workload_shape(name: str) -> Optional[str]:
    """The shapes of workload ``name`` and why it is measured, or None for a name
    ``suite.workloads`` does not have (a workload's name never changes meaning)."""
    from suite.workloads import WORKLOADS

    wl = WORKLOADS.get(name)
    if wl is None:
        return None
    banks = ", ".join(f"{c} x {h} x {w}" for c, h, w in wl.banks)
    return (f"{wl.reason[:1].upper()}{wl.reason[1:]}: {wl.batch} x {wl.n} x {wl.d} input "
            f"(batch x n x d), filter banks {banks} (channels x h x w).")


def _conv_section(report: dict) -> List[str]:
    rows = [r for r in report["rows"] if r["section"] in ("feature_map", "conv_pool", "baseline")]
    if not rows:
        return []
    out = ["## Feature maps and fused conv_pool", "",
           "`feature_map` and `conv_pool` (ReLU, then max-over-time pooling, the layer of "
           "Kim 2014) of every variant that passed its check, and the references (kernel "
           "`reference`; PyTorch's is `conv1d`, or `conv2d` for filters narrower than d). "
           "One call per filter bank; the time is the whole "
           "workload's. `% GEMM peak` is of the single-thread GEMM peak of the same run "
           "times the row's threads. `x simd` is the Cython `tiles` against the C `simd` "
           "kernel; `x feature_map` is `conv_pool` against `feature_map` of the same "
           "variant. correlate2d is timed on a sample of a batch's sentences and scaled "
           "to the batch.", ""]
    groups: Dict[Tuple[str, str], List[dict]] = {}
    for r in rows:
        groups.setdefault((r["workload"], r["dtype"]), []).append(r)
    titled = set()
    for (workload, dtype), group in groups.items():
        if workload not in titled:
            titled.add(workload)
            out += [f"### `{workload}`", ""] + ([_workload_shape(workload), ""]
                                                if _workload_shape(workload) else [])
        speedups = _speedup_columns(group)
        head = (["kernel", "variant", "threads", "median ms", "GFLOP/s", "% GEMM peak"]
                + [f"x {PEERS.get(k, k)}" for k in speedups])
        body = [[{"baseline": "reference"}.get(r["section"], r["section"]),
                 PEERS.get(r["variant"], r["variant"]) if r["section"] == "baseline"
                 else r["variant"], str(r["threads"]), milliseconds(r),
                 _fmt(r.get("gflops"), ".2f"), _fmt(r.get("peak_percent"), ".1f")]
                + [_fmt(r.get("speedups", {}).get(k), ".2f") for k in speedups]
                for r in group]
        right = [False] * 2 + [True] * (len(head) - 2)
        out += [f"#### `{workload}`, {dtype}", "", provenance(report), "",
                _threads_note(group), "", _table(head, body, right), ""]
    return out


def _pool_section(report: dict) -> List[str]:
    rows = [r for r in report["rows"] if r["section"] == "pool"]
    if not rows:
        return []
    head = ["workload", "method", "dtype", "threads", "median ms", "x NumPy"]
    body = [[r["workload"], r["variant"], r["dtype"], str(r["threads"]), milliseconds(r),
             _fmt(r.get("speedups", {}).get("numpy"), ".2f")] for r in rows]
    return ["## Pooling against NumPy", "",
            "`suite.pool` of each method on the feature maps of the batch workloads "
            "(seeded stand-ins of their shapes), against the NumPy reference "
            "(`suite.reference.pool`), timed in turn.", "",
            provenance(report), "", _threads_note(rows), "",
            _table(head, body, [False, False, False, True, True, True]), ""]


def _sentences(workload: str) -> Optional[int]:
    from suite.workloads import INTENT

    case = workload.split("/", 1)[-1]
    return INTENT.cases[case][0] if case in INTENT.cases else None


def _model_section(report: dict) -> List[str]:
    rows = [r for r in report["rows"] if r["section"] == "model"]
    own = [r for r in rows if r["variant"] == "suite"]
    if not own:
        return []
    from suite.workloads import INTENT

    peers = [p for p in ("onnxruntime", "torch")
             if any(r["variant"] == p or p in r.get("speedups", {}) for r in rows)]
    others = {(r["workload"], r["dtype"], r["variant"]): r for r in rows if r not in own}
    head = ["case", "dtype", "threads", "TextCNN p50", "p99", "sentences/s", "GFLOP/s",
            "x 1 thread"]
    for p in peers:
        head += [f"{PEERS[p]} p50", f"x {PEERS[p]}"]
    body = []
    for r in own:
        n = _sentences(r["workload"])
        seconds = r.get("seconds")
        rate = None if n is None or not seconds else n / seconds
        cells = [r["workload"].split("/", 1)[-1], r["dtype"], str(r["threads"]),
                 "FAILED" if r["status"] == "FAILED" else duration(seconds),
                 duration(r.get("p99")), _fmt(rate, ",.0f"), _fmt(r.get("gflops"), ".2f"),
                 _fmt(r.get("speedups", {}).get("suite"), ".2f")]
        for p in peers:
            peer = others.get((r["workload"], r["dtype"], p))
            cells += ["-" if peer is None else
                      "FAILED" if peer["status"] == "FAILED" else duration(peer.get("seconds")),
                      _fmt(r.get("speedups", {}).get(p), ".2f")]
        body.append(cells)
    missing = [PEERS[p] for p in ("onnxruntime", "torch") if p not in peers]
    absent = (f" {' and '.join(missing)} {'is' if len(missing) == 1 else 'are'} not in this "
              "report (not installed when it ran)." if missing else "")
    tables = ", ".join(f"{v:,} x {d}" for v, d in [(INTENT.vocab, w) for w in INTENT.word_dims]
                       + list(INTENT.tags))
    return ["## The classifier: `intent`", "",
            f"`suite.TextCNN` of the seed's classifier (`suite.workloads.INTENT`: embedding "
            f"tables {tables}, so D = {INTENT.dim}; {INTENT.channels} filters for each "
            f"height {', '.join(map(str, INTENT.heights))}; SELU; {INTENT.classes} "
            "classes) against ONNX Runtime (float32) and PyTorch eager, single calls in "
            "turns (consecutive calls of one contender, the first of each turn not timed, "
            "as a server calls the same model again and again): p50 and p99 per call "
            "(one utterance, or the whole padded batch), "
            "sentences per second, and `x` the peer's median over TextCNN's, both timed "
            "in the same rounds; on one utterance, TextCNN on 2 threads too, and `x 1 "
            f"thread` its speed over one thread's.{absent}", "",
            provenance(report), "", _threads_note(rows), "",
            _table(head, body, [False, False] + [True] * (len(head) - 2)), ""]


def _width_section(report: dict) -> List[str]:
    rows = [r for r in report["rows"] if r["section"] == "width"]
    if not rows:
        return []
    head = ["workload", "filter width", "variant", "dtype", "threads", "median ms",
            "GFLOP/s", "x loops"]
    body = []
    for r in rows:
        workload, _, width = r["workload"].partition("/w")
        parity = "" if not width.isdigit() else " (even)" if int(width) % 2 == 0 else " (odd)"
        body.append([workload, width + parity, r["variant"], r["dtype"], str(r["threads"]),
                     milliseconds(r), _fmt(r.get("gflops"), ".2f"),
                     _fmt(r.get("speedups", {}).get("loops"), ".2f")])
    return ["## The seed's two-accumulator split", "",
            "The `seed` kernel splits each filter row between two accumulators when the "
            "filter width is even; full-width filters (w = d) against w = d - 1 show what "
            "that split is worth, against the plain `loops`.", "",
            provenance(report), "", _threads_note(rows), "",
            _table(head, body, [False, True, False, False, True, True, True, True]), ""]


def _run_section(report: dict) -> List[str]:
    env, settings = report["environment"], report["settings"]
    machine = env.get("machine") or {}
    line, recorded = command(report)
    versions = env.get("versions") or {}
    libraries = ", ".join(
        f"{name} {v}" + (f" (CPU capability {env['torch_isa']})"
                         if name == "torch" and env.get("torch_isa") else "")
        for name, v in versions.items() if v and name != "textcnn-suite")
    missing = [PEERS.get(name, name) for name, v in versions.items()
               if v is None and name in ("torch", "onnxruntime")]
    pools = []
    for pool in env.get("threadpools") or []:
        if isinstance(pool, dict) and pool.get("internal_api"):
            where = ", ".join(str(pool[k]) for k in ("prefix", "architecture") if pool.get(k))
            name = " ".join(str(v) for v in (pool["internal_api"], pool.get("version")) if v)
            entry = f"{name} ({where})" if where else name
            if entry not in pools:
                pools.append(entry)
    peaks = ", ".join(f"{dtype} {peak:.1f} GFLOP/s"
                      for dtype, peak in report["gemm_gflops"].items())
    repeat, min_time = settings.get("repeat"), settings.get("min_time")
    items = [
        f"Machine: {_machine(env)}; {machine.get('platform') or 'platform not recorded'}, "
        f"Python {machine.get('python') or 'not recorded'}.",
        f"Commit: {_commit(env, short=False)}.",
        "Command: " + (f"`{line}`." if recorded else "not recorded." if line == NOT_RECORDED
                       else f"`{line}` (rebuilt from the report's settings: the report "
                       "did not record its command line)."),
        f"Sampling: {repeat} sample{'s' if repeat != 1 else ''} of each timing, each "
        f"at least {min_time} s, the median reported; every contender of a table sampled "
        "in turn, round by round." if repeat is not None else "Sampling: not recorded.",
        f"GEMM peak of the run, one thread (NumPy's BLAS): {peaks or 'not recorded'}.",
        f"Libraries: {libraries or 'not recorded'}"
        + (f"; not installed: {', '.join(missing)}" if missing else "") + ".",
    ]
    if pools:
        items.append(f"BLAS and OpenMP libraries: {', '.join(pools)}.")
    return ["## The run", "", *[f"- {item}" for item in items], ""]


#: Where ``python -m suite markdown`` output goes unless told: the document it names.
DEFAULT_OUTPUT = "docs/performance.md"


def format_markdown(report: dict, output: str = DEFAULT_OUTPUT) -> str:
    """The report as a Markdown document: the run, then one table per section.

    Parameters
    ----------
    report : dict
        A report as ``python -m suite run --json`` writes it (see :func:`check_report`).
    output : str, optional
        Where the document goes, as its first comment names it (the command that
        regenerates it).

    Returns
    -------
    str
        The document, ending in a newline.
    """
    out = ["# Measured performance", "",
           f"<!-- Generated by `python -m suite markdown REPORT.json --output {output}` "
           "from the JSON of `python -m suite run --json REPORT.json`. Do not edit: "
           "regenerate. -->", "",
           "The figures of one run of `python -m suite run` on one machine, written by "
           "`python -m suite markdown` from the run's JSON. Every variant was checked "
           "against `suite.reference` before it was timed; a row that failed its check "
           "says FAILED and has no figures. `x B` is how many times faster the row ran "
           "than B: the median over rounds of B's time over the row's, the two timed in "
           "turn in each round. While timing, BLAS and OpenMP are held to one thread "
           "(`suite.timing.single_threaded`) and PyTorch and ONNX Runtime run on one; a "
           "row's threads column says how many threads its kernel asked for.", ""]
    out += _run_section(report)
    for section in (_conv_section, _pool_section, _model_section, _width_section):
        out += section(report)
    failed = [r for r in report["rows"] if r["status"] == "FAILED"]
    if failed:
        out += ["## Failed checks", "", provenance(report), ""]
        out += [f"- {r['section']} `{r['variant']}` on {r['workload']}, {r['dtype']}, "
                f"{r['threads']} thread{'s' if r['threads'] != 1 else ''}: "
                f"{r.get('error') or 'no reason recorded'}" for r in failed]
        out.append("")
    return "\n".join(out).rstrip("\n") + "\n"


def write_markdown(report: dict, path: str) -> None:
    """Write :func:`format_markdown` of ``report`` to ``path``."""
    with open(path, "w", encoding="utf-8") as f:
        f.write(format_markdown(report, path))
