"""What the instruction gate found, where, and why: the gate's summary for a pull request.

``.ci/gate`` runs asv's gate command with ``counting.RECORD_ENV`` set, so the one count
asv makes of each build also records, per case, the self cost of every function, the
cost of each source line of the project's own functions and their executed instruction
mix (``counting.record_count``).  This module compares the records of the base and the
head commit:

* **the verdict** and the cases worse or better than the factor, grouped by kernel family
  (``family``): ``feature_map`` of a variant, ``pool`` of a method, ``conv_pool`` of a
  variant and layer, the classifier;
* **where**, for every worse case: the functions whose own instruction counts changed
  most (base, head, delta, share of the case's change) and the source lines of the
  project's functions that changed most (file and line of the generated C, from the
  builds' line tables);
* **why**, for every kernel function (a function of the project's compiled modules that
  executed floating-point operations): its instruction mix in both builds
  (``mix.py``: packed 512/256/128-bit and scalar floating-point instructions, floating-
  point operations per instruction), and a warning for each whose packed share fell by
  ``PACKED_FALL`` or more, however little its count changed.

The summary is Markdown (``markdown``), appended to ``$GITHUB_STEP_SUMMARY`` when that is
set and written to ``.asv/gate-summary.md`` otherwise; a passing run without warnings is
one line, with the largest change seen.  The console gets a shorter text (``console``).

As a script (what ``.ci/gate`` runs after asv)::

    python benchmarks/explain.py --factor 1.05 --status STATUS BASE HEAD

with ``--records DIR`` (default ``$SUITE_COUNT_RECORD``, else ``.asv/gate``) and
``--summary PATH``.  Exit status 0 when the summary was written, 1 when a record is
missing or unreadable (the gate's verdict is asv's exit status, not this one's).
"""
import argparse
import itertools
import json
import math
import os
import re
import sys

if __package__:
    from . import mix as _mix
else:
    sys.path.append(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    from benchmarks import mix as _mix

#: A kernel function whose packed share of floating-point instructions fell by this much
#: (0.10: ten percentage points) or more is named, as a warning when its count passed.
PACKED_FALL = 0.10
#: A mix change shown besides the warnings: the packed share moving by this much, or the
#: floating-point operations per instruction by this factor.
MIX_CHANGE = (0.02, 1.05)
#: Kernel functions executing fewer floating-point instructions than this, in both builds,
#: are left out of the mix (the Cython wrappers' struct copies, a reduction's tail).
MIX_FLOOR = 2000
#: Functions shown per worse case, and changed lines per function.
TOP_FUNCTIONS, TOP_LINES = 8, 3
#: Kernel families whose functions the console shows (the summary shows every one).
CONSOLE_FAMILIES = 6
#: The directory of the records when neither ``--records`` nor ``RECORD_ENV`` gives one.
DEFAULT_RECORDS = os.path.join(".asv", "gate")
#: The summary's file when ``$GITHUB_STEP_SUMMARY`` is not set.
DEFAULT_SUMMARY = os.path.join(".asv", "gate-summary.md")

_WHICH = {"kernel": "track_instructions", "inclusive": "track_inclusive_instructions"}


class RecordError(Exception):
    """A commit's record is missing or unreadable."""


def load_record(directory, commit):
    """The record ``counting.record_count`` wrote for ``commit`` in ``directory``.

    Raises
    ------
    RecordError
        When there is none, or it is not a record.
    """
    path = os.path.join(directory, f"{commit}.json")
    try:
        with open(path) as f:
            record = json.load(f)
    except FileNotFoundError:
        raise RecordError(f"no record of commit {commit[:8]} in {directory} (was it counted "
                          "with SUITE_COUNT_RECORD set?)") from None
    except (OSError, ValueError) as e:
        raise RecordError(f"cannot read the record {path}: {e}") from None
    if not isinstance(record, dict) or not isinstance(record.get("cases"), dict):
        raise RecordError(f"{path} is not a record of counting.record_count")
    return record


def benchmark_names():
    """``{case key: {"kernel": [name, ...], "inclusive": [...]}}`` of asv's benchmarks.

    The names as asv prints them, e.g.
    ``instructions.Instructions.track_instructions('utterance', 'tiles', 'float32')``.
    """
    if __package__:
        from . import instructions
    else:
        from benchmarks import instructions
    names = {}
    classes = [instructions.Instructions, instructions.PoolInstructions,
               instructions.ConvPoolInstructions, instructions.LayerInstructions,
               instructions.ModelInstructions]
    for cls in classes:
        for params in itertools.product(*cls.params):
            key = cls().key(*params)
            args = ", ".join(repr(p) for p in params)
            for which, method in _WHICH.items():
                names.setdefault(key, {"kernel": [], "inclusive": []})[which].append(
                    f"instructions.{cls.__name__}.{method}({args})")
    return names


def family(key):
    """The kernel family of a case key: ``"feature_map tiles"``, ``"pool max"``,
    ``"conv_pool tiles relu-max"``, ``"model logits"``."""
    parts = key.split("/")
    if parts[0] == "conv_pool" and len(parts) >= 6:
        return f"conv_pool {parts[2]} {parts[4]}-{parts[5]}"
    return f"{parts[0]} {parts[2]}"


def _instance(key):
    """What in a case key is not its family: its workload and dtype."""
    parts = key.split("/")
    return f"{parts[1]} {parts[3]}"


def compare(base, head, factor):
    """Every count of the cases both records have, with its ratio head / base.

    Returns
    -------
    list of dict
        ``{"case", "which", "base", "head", "ratio"}``, ``which`` being ``"kernel"`` or
        ``"inclusive"``, sorted by case.
    """
    rows = []
    for key in sorted(set(base["cases"]) & set(head["cases"])):
        for which in ("kernel", "inclusive"):
            b, h = base["cases"][key][which], head["cases"][key][which]
            ratio = h / b if b else (1.0 if h == b else math.inf)
            rows.append({"case": key, "which": which, "base": b, "head": h, "ratio": ratio})
    return rows


def worse(rows, factor):
    """The rows more than ``factor`` times their base's count, worst first."""
    return sorted((r for r in rows if r["ratio"] > factor), key=lambda r: -r["ratio"])


def better(rows, factor):
    """The rows less than ``1 / factor`` times their base's count, best first."""
    return sorted((r for r in rows if r["ratio"] < 1 / factor), key=lambda r: r["ratio"])


def largest(rows):
    """The row whose ratio is farthest from 1 either way; ``None`` without rows."""
    finite = [r for r in rows if 0 < r["ratio"] < math.inf]
    return max(finite, key=lambda r: abs(math.log(r["ratio"])), default=None)


def group(rows):
    """``rows`` by ``family``: ``[(family, rows)]``, the family of the worst row first."""
    families = {}
    for row in rows:
        families.setdefault(family(row["case"]), []).append(row)
    return sorted(families.items(), key=lambda item: -abs(math.log(
        max(item[1], key=lambda r: abs(math.log(r["ratio"])))["ratio"])))


def _object(key):
    """The object part of a function key, without the extension's platform tag."""
    obj = key.split(":", 1)[0]
    return obj.split(".cpython-")[0].split(".so")[0]


def _merged(key):
    """A function key without callgrind's recursion level (``name'2``): records written
    before ``counting.read_part`` merged them keep it."""
    return re.sub(r"'\d+$", "", key)


def function_name(key):
    """A readable name of a function key (``"object:function"``)."""
    obj, _, fn = key.partition(":")
    name = _mix.demangle(fn)
    if name == fn and obj.startswith("_"):
        return f"{_object(key)}: {fn}"
    return name


def function_deltas(base_case, head_case, which, top=TOP_FUNCTIONS, lines=TOP_LINES):
    """The functions whose own instruction counts changed most in one case.

    Parameters
    ----------
    base_case, head_case : dict
        The case's entries of the two records.
    which : str
        ``"kernel"`` (only the functions that count toward the kernel) or ``"inclusive"``.

    Returns
    -------
    list of dict
        ``{"function", "object", "base", "head", "delta", "share", "lines"}``, the
        largest absolute delta first; ``share`` is the delta over the case's change
        (``None`` when the case did not change), ``lines`` the ``(file:line, base, head)``
        of the function's lines whose counts changed most, in the direction of its
        delta.
    """
    def own(case):
        out = {}
        for k, v in case.get("functions", {}).items():
            if which == "inclusive" or v[0]:
                out[_merged(k)] = out.get(_merged(k), 0) + v[1]
        return out

    b, h = own(base_case), own(head_case)
    change = head_case[which] - base_case[which]
    out = []
    for key in set(b) | set(h):
        delta = h.get(key, 0) - b.get(key, 0)
        if delta:
            out.append({"function": key, "object": _object(key), "base": b.get(key, 0),
                        "head": h.get(key, 0), "delta": delta,
                        "share": delta / change if change else None})
    out.sort(key=lambda f: (-abs(f["delta"]), f["function"]))
    out = out[:top]
    def lines_of(case, function):
        out = {}
        for k, costs in case.get("lines", {}).items():
            if _merged(k) == function:
                for where, n in costs.items():
                    out[where] = out.get(where, 0) + n
        return out

    for entry in out:
        bl, hl = lines_of(base_case, entry["function"]), lines_of(head_case, entry["function"])
        sign = 1 if entry["delta"] > 0 else -1
        changed = [(where, bl.get(where, 0), hl.get(where, 0)) for where in set(bl) | set(hl)
                   if sign * (hl.get(where, 0) - bl.get(where, 0)) > 0]
        changed.sort(key=lambda line: (-abs(line[2] - line[1]), line[0]))
        entry["lines"] = changed[:lines]
    return out


def kernel_mixes(record):
    """Each kernel function's mix summed over the record's cases.

    Returns
    -------
    dict
        function key -> ``{"mix": ..., "cases": [case key, ...], "dtypes": [...]}``.
    """
    out = {}
    for key, case in sorted(record["cases"].items()):
        for function, m in case.get("mix", {}).items():
            entry = out.setdefault(_merged(function),
                                   {"mix": _mix.empty(), "cases": [], "dtypes": []})
            _mix.add(entry["mix"], m)
            entry["cases"].append(key)
            dtype = key.split("/")[3]
            if dtype not in entry["dtypes"]:
                entry["dtypes"].append(dtype)
    return {k: v for k, v in out.items() if v["mix"]["flops"] > 0}


def mix_changes(base, head):
    """The kernel functions whose mix changed between the records, and the warnings.

    Returns
    -------
    list of dict
        ``{"function", "dtypes", "families", "base", "head", "packed": (base share, head
        share), "flops": (base, head flops per instruction), "fell"}``: every kernel
        function of both records with ``MIX_FLOOR`` floating-point instructions in one of
        them whose packed share moved by ``MIX_CHANGE[0]`` or whose flops per
        instruction moved by the factor ``MIX_CHANGE[1]``; ``fell`` when its packed share
        fell by ``PACKED_FALL`` or more.  The largest fall first.
    """
    b, h = kernel_mixes(base), kernel_mixes(head)
    out = []
    for key in sorted(set(b) & set(h)):
        bm, hm = b[key]["mix"], h[key]["mix"]
        if max(_mix.floating_point(bm), _mix.floating_point(hm)) < MIX_FLOOR:
            continue
        packed = (_mix.packed_share(bm) or 0.0, _mix.packed_share(hm) or 0.0)
        flops = (_mix.flops_per_instruction(bm), _mix.flops_per_instruction(hm))
        moved = abs(packed[1] - packed[0]) >= MIX_CHANGE[0] or (
            min(flops) > 0 and max(flops) / min(flops) >= MIX_CHANGE[1]) or (
            min(flops) == 0 < max(flops))
        if not moved:
            continue
        families = sorted({family(c) for c in h[key]["cases"]})
        out.append({"function": key, "dtypes": h[key]["dtypes"], "families": families,
                    "base": bm, "head": hm, "packed": packed, "flops": flops,
                    "fell": packed[0] - packed[1] >= PACKED_FALL})
    out.sort(key=lambda m: (m["packed"][1] - m["packed"][0], m["function"]))
    return out


def mix_table(record):
    """Each kernel function's mix in one record, as rows for ``format_mix``."""
    rows = []
    for key, entry in sorted(kernel_mixes(record).items()):
        m = entry["mix"]
        rows.append({"function": key, "dtypes": entry["dtypes"],
                     "families": sorted({family(c) for c in entry["cases"]}), "mix": m})
    return rows


def format_mix(rows):
    """``mix_table``'s rows as a Markdown table (which reads as plain text too)."""
    lines = ["| Kernel function | dtype | Instructions | FP: 512 / 256 / 128-bit / scalar "
             "| Packed | Flops per instruction | Runs in |",
             "| --- | --- | ---: | --- | ---: | ---: | --- |"]
    for row in rows:
        m = row["mix"]
        fp = _mix.floating_point(m)
        kinds = " / ".join(f"{m[k] / fp:.0%}" for k in _mix.KINDS) if fp else "-"
        lines.append(f"| `{function_name(row['function'])}` | {', '.join(row['dtypes'])} "
                     f"| {m['instructions']:,} | {kinds} | {_percent(_mix.packed_share(m))} "
                     f"| {_mix.flops_per_instruction(m):.2f} | {_families(row['families'])} |")
    return "\n".join(lines)


def _families(families, shown=4):
    more = len(families) - shown
    return ", ".join(families[:shown]) + (f" and {more} more" if more > 0 else "")


def _percent(share):
    return "-" if share is None else f"{share:.0%}"


def _signed(n):
    return f"{n:+,}"


def _names(row, names):
    return names.get(row["case"], {}).get(row["which"]) or [f"{row['case']} ({row['which']})"]


class Report:
    """The comparison of two records, ready to print (``console``) or post (``markdown``).

    Parameters
    ----------
    base, head : dict
        The records (``load_record``).
    factor : float
        The gate's factor.
    status : int or None
        asv's exit status (0 passed, 1 a benchmark regressed, 2 a build or benchmark
        failed); ``None`` to judge from the records alone.
    names : dict, optional
        ``benchmark_names()`` (made when not given).
    """

    def __init__(self, base, head, factor, status=None, names=None):
        self.base, self.head, self.factor = base, head, factor
        self.names = benchmark_names() if names is None else names
        self.rows = compare(base, head, factor)
        self.worse = worse(self.rows, factor)
        self.better = better(self.rows, factor)
        self.largest = largest(self.rows)
        self.status = status if status is not None else (1 if self.worse else 0)
        self.mix = mix_changes(base, head)
        self.warnings = [m for m in self.mix if m["fell"]]
        # Per worse case (worse in its kernel count, or in the inclusive one alone), the
        # functions that changed most.
        self.where = []
        cases = {}
        for row in self.worse:
            if row["case"] not in cases or row["which"] == "kernel":
                cases[row["case"]] = row
        for case, row in sorted(cases.items(), key=lambda item: -item[1]["ratio"]):
            self.where.append((row, function_deltas(base["cases"][case], head["cases"][case],
                                                    row["which"])))

    @property
    def passed(self):
        return self.status == 0

    def verdict(self):
        """One line: passed or failed, and why."""
        if self.status == 2:
            return ("FAILED: a commit did not build or a benchmark did not run (asv exit "
                    "status 2); see the log")
        if self.passed:
            if self.largest is None:
                return "passed: no case counted in both commits"
            r = self.largest
            text = (f"passed: no counted case changed by more than {self.factor}x; the "
                    f"largest change is {r['ratio']:.4f}x "
                    f"({_names(r, self.names)[0]}: {r['base']:,} -> {r['head']:,})")
            if self.better:
                text += f"; {len(self.better)} count(s) better than 1/{self.factor}"
            if self.warnings:
                text += f"; {len(self.warnings)} kernel function(s) lost packed arithmetic"
            return text
        return (f"FAILED: {len(self.worse)} count(s) more than {self.factor}x the base's, "
                f"in {len(group(self.worse))} kernel famil"
                f"{'y' if len(group(self.worse)) == 1 else 'ies'}")

    def _warning_line(self, m):
        return (f"`{function_name(m['function'])}` {', '.join(m['dtypes'])}: "
                f"{_percent(m['packed'][0])} packed -> {_percent(m['packed'][1])}, "
                f"{m['flops'][0]:.2f} -> {m['flops'][1]:.2f} flops per instruction "
                f"(in {_families(m['families'])})")

    def _where_by_family(self):
        """``self.where`` by family, in order of each family's worst case."""
        families = {}
        for row, deltas in self.where:
            families.setdefault(family(row["case"]), []).append((row, deltas))
        return list(families.items())

    @staticmethod
    def _where_table(row, deltas):
        out = [f"**{row['case']}** ({row['which']}): {row['base']:,} -> {row['head']:,} "
               f"({_signed(row['head'] - row['base'])}, {row['ratio']:.3f}x)", "",
               "| Function | Object | Base | Head | Delta | Share | Changed lines |",
               "| --- | --- | ---: | ---: | ---: | ---: | --- |"]
        for f in deltas:
            lines = "; ".join(f"`{w}` {b:,} -> {h:,}" for w, b, h in f["lines"])
            share = "-" if f["share"] is None else f"{f['share']:.0%}"
            out.append(f"| `{function_name(f['function'])}` | {f['object']} | "
                       f"{f['base']:,} | {f['head']:,} | {_signed(f['delta'])} | "
                       f"{share} | {lines} |")
        return out + [""]

    def markdown(self):
        """The summary for the pull request, in Markdown."""
        base, head = self.base["commit"][:8], self.head["commit"][:8]
        title = f"**Instruction gate** ({base} -> {head}): {self.verdict()}"
        if self.passed and not self.warnings:
            return title + "\n"
        out = [f"## Instruction gate: {'passed' if self.passed else 'FAILED'}", "",
               f"{base} -> {head}, factor {self.factor}: {self.verdict()}.", ""]
        if self.warnings:
            out += ["### Warnings: lost vectorisation", ""]
            out += [f"- {self._warning_line(m)}" for m in self.warnings] + [""]
        for title_, rows in (("Worse", self.worse), ("Better", self.better)):
            if not rows:
                continue
            out += [f"### {title_} ({len(rows)} counts), by kernel family", "",
                    "| Kernel family | Counts | Largest ratio | Cases (workload dtype: ratio) |",
                    "| --- | ---: | ---: | --- |"]
            for fam, members in group(rows):
                top = max(members, key=lambda r: abs(math.log(r["ratio"])))
                cases = ", ".join(f"{_instance(r['case'])} {r['which']}: {r['ratio']:.3f}"
                                  for r in members)
                out.append(f"| {fam} | {len(members)} | {top['ratio']:.3f} | {cases} |")
            out += ["", "<details><summary>asv's rows</summary>", "",
                    "| Before | After | Ratio | Benchmark |", "| ---: | ---: | ---: | --- |"]
            out += [f"| {r['base']:,} | {r['head']:,} | {r['ratio']:.3f} | `{name}` |"
                    for r in rows for name in _names(r, self.names)]
            out += ["", "</details>", ""]
        if self.where:
            out += ["### Where: the functions whose own counts changed most", "",
                    "The worst case of each kernel family; the family's other cases below "
                    "it.", ""]
            for fam, cases in self._where_by_family():
                out += [f"#### {fam}", ""] + self._where_table(*cases[0])
                if cases[1:]:
                    out += [f"<details><summary>{len(cases) - 1} more case(s) of {fam}"
                            "</summary>", ""]
                    for case in cases[1:]:
                        out += self._where_table(*case)
                    out += ["</details>", ""]
        if self.mix:
            out += ["### Why: instruction mix of the kernel functions that changed", "",
                    "| Kernel function | dtype | Packed (base -> head) | FP kinds 512/256/128/"
                    "scalar, base -> head | Flops per instruction | Instructions |",
                    "| --- | --- | --- | --- | --- | --- |"]
            for m in self.mix:
                kinds = " -> ".join(
                    "/".join(f"{x[k] / fp:.0%}" for k in _mix.KINDS) if fp else "-"
                    for x, fp in ((m["base"], _mix.floating_point(m["base"])),
                                  (m["head"], _mix.floating_point(m["head"]))))
                mark = " **(fell)**" if m["fell"] else ""
                out.append(f"| `{function_name(m['function'])}` | {', '.join(m['dtypes'])} | "
                           f"{_percent(m['packed'][0])} -> {_percent(m['packed'][1])}{mark} "
                           f"| {kinds} | {m['flops'][0]:.2f} -> {m['flops'][1]:.2f} | "
                           f"{m['base']['instructions']:,} -> {m['head']['instructions']:,} |")
            out.append("")
        return "\n".join(out)

    def console(self):
        """A short text of the same, for the CI log: lines starting ``gate:``."""
        out = [self.verdict()]
        for m in self.warnings:
            out.append("WARNING lost vectorisation: " + self._warning_line(m).replace("`", ""))
        for title_, rows in (("worse", self.worse), ("better", self.better)):
            if rows and not (self.passed and title_ == "better"):
                out.append(f"{title_}, by kernel family (largest ratio, counts):")
                pick = max if title_ == "worse" else min
                out += [f"  {fam:<32} {pick(r['ratio'] for r in members):.3f}x  {len(members)}"
                        for fam, members in group(rows)]
        families = self._where_by_family()
        for _, ((row, deltas), *_) in families[:CONSOLE_FAMILIES]:
            out.append(f"where, {row['case']} ({row['which']}): {row['base']:,} -> "
                       f"{row['head']:,}")
            for f in deltas[:3]:
                share = "" if f["share"] is None else f" {f['share']:.0%}"
                lines = "".join(f", {w} {_signed(h - b)}" for w, b, h in f["lines"][:1])
                out.append(f"  {function_name(f['function'])} ({f['object']}) "
                           f"{_signed(f['delta'])}{share}{lines}")
        if len(families) > CONSOLE_FAMILIES:
            out.append(f"where: {len(families) - CONSOLE_FAMILIES} more kernel families in "
                       "the summary")
        return "\n".join("gate: " + line for line in out)


def summary_path(explicit=None):
    """Where the summary goes: ``explicit``, else ``$GITHUB_STEP_SUMMARY``, else
    ``DEFAULT_SUMMARY``; and whether to append (the step summary collects every step's)."""
    if explicit:
        return explicit, False
    if os.environ.get("GITHUB_STEP_SUMMARY"):
        return os.environ["GITHUB_STEP_SUMMARY"], True
    return DEFAULT_SUMMARY, False


def write_summary(text, explicit=None):
    """Write the Markdown ``text`` where ``summary_path`` says; the path."""
    path, append = summary_path(explicit)
    if os.path.dirname(path):
        os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "a" if append else "w") as f:
        f.write(text if text.endswith("\n") else text + "\n")
    return path


def _factor(text):
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not value >= 1:
        raise argparse.ArgumentTypeError(f"--factor must be a number >= 1, not {text!r}")
    return value


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="explain.py", description="Compare the instruction gate's records of two "
        "commits: the verdict, where the instructions went, the kernels' instruction mix.")
    parser.add_argument("base", help="the base commit (full hash, as asv records it)")
    parser.add_argument("head", help="the head commit")
    parser.add_argument("--factor", type=_factor, required=True,
                        help="the gate's factor, as in its asv continuous command")
    parser.add_argument("--status", type=int, choices=(0, 1, 2), default=None,
                        help="asv's exit status (default: judge from the records)")
    parser.add_argument("--records", default=None,
                        help="the records' directory (default $SUITE_COUNT_RECORD, else "
                        f"{DEFAULT_RECORDS})")
    parser.add_argument("--summary", default=None,
                        help="the Markdown summary's file (default $GITHUB_STEP_SUMMARY, "
                        f"else {DEFAULT_SUMMARY})")
    args = parser.parse_args(argv)
    records = args.records or os.environ.get("SUITE_COUNT_RECORD") or DEFAULT_RECORDS
    try:
        base, head = load_record(records, args.base), load_record(records, args.head)
    except RecordError as e:
        text = f"**Instruction gate** ({args.base[:8]} -> {args.head[:8]}): no explanation: {e}"
        if args.status is not None:
            text += f" (asv exit status {args.status})"
        path = write_summary(text, args.summary)
        print(f"gate: explain.py: {e}; summary in {path}", file=sys.stderr)
        return 1
    report = Report(base, head, args.factor, args.status)
    path = write_summary(report.markdown(), args.summary)
    print(report.console())
    print(f"gate: summary in {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
