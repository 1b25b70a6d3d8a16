"""``python -m suite markdown``: every figure of a report's JSON, in tables that say where
they come from; a bad report or output is one line and exit status 2, nothing written."""
import copy
import json
import os
import re
import subprocess
import sys

import pytest

from suite.report import markdown

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COMMIT = "0123456789abcdef0123456789abcdef01234567"
COMMAND = "python -m suite run --quick --json r.json"


def _suite(*args, timeout=120):
    return subprocess.run([sys.executable, "-m", "suite", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout)


def _report():
    """A small report, as ``python -m suite run --json`` writes one: a row of every kind,
    the classifier with both peers, a threaded row and a failed one.  Every row has a
    time of its own, so that the test can find each in the tables."""
    rows = []

    def row(section, workload, variant, dtype="float64", threads=1, status="passed",
            speedups=None, **more):
        seconds = None if status == "FAILED" else (len(rows) + 1) * 1.2345e-4
        rows.append(dict({"section": section, "workload": workload, "variant": variant,
                          "dtype": dtype, "threads": threads, "status": status,
                          "flops": 10 ** 7, "seconds": seconds, "samples": [seconds],
                          "gflops": seconds and 1e-2 / seconds,
                          "peak_percent": seconds and 1.0 / seconds / 1e3, "p99": None,
                          "speedups": speedups or {}, "error": None}, **more))

    for dtype in ("float64", "float32"):
        row("feature_map", "utterance", "tiles", dtype, speedups={"correlate2d": 20.0,
                                                                  "torch": 0.7, "simd": 1.01})
        row("feature_map", "utterance", "simd", dtype, speedups={"correlate2d": 19.0})
        row("conv_pool", "utterance", "tiles", dtype,
            speedups={"correlate2d": 18.0, "feature_map": 0.97})
        row("baseline", "utterance", "correlate2d", dtype, status="reference")
        row("baseline", "utterance", "torch", dtype, status="reference")
    row("feature_map", "utterance", "loops", status="FAILED",
        error="output differs from the reference")
    row("feature_map", "kim-mr-b64", "parallel", threads=2, speedups={"correlate2d": 90.0})
    row("feature_map", "kim-mr-b64", "parallel", speedups={"correlate2d": 45.0})
    row("pool", "kim-mr-b64", "max", flops=None, gflops=None, peak_percent=None,
        speedups={"numpy": 2.5})
    row("pool", "kim-mr-b64", "kmax", "float32", flops=None, gflops=None,
        peak_percent=None, speedups={"numpy": 6.0})
    for case in ("utterance-8", "batch-64"):
        row("model", f"intent/{case}", "suite", "float32", p99=9e-3,
            speedups={"torch": 5.5, "onnxruntime": 2.25})
        row("model", f"intent/{case}", "torch", "float32")
        row("model", f"intent/{case}", "onnxruntime", "float32")
    row("model", "intent/utterance-8", "suite", "float64", p99=8e-3, speedups={"torch": 3.5})
    row("model", "intent/utterance-8", "torch", "float64")
    for width in (299, 300):
        row("width", f"utterance/w{width}", "loops")
        row("width", f"utterance/w{width}", "seed", speedups={"loops": 1.9})
    return {"settings": {"workloads": ["utterance", "kim-mr-b64", "intent"],
                         "variants": ["loops", "seed", "tiles", "simd", "parallel", "max",
                                      "kmax"],
                         "dtypes": ["float64", "float32"], "repeat": 1, "min_time": 0.005,
                         "gemm_size": 512, "command": COMMAND},
            "gemm_gflops": {"float64": 50.0, "float32": 100.0},
            "environment": {"machine": {"platform": "Linux-test", "cpu": "Test CPU 9000",
                                        "cores": 4, "python": "3.11.0"},
                            "versions": {"numpy": "2.0", "scipy": "1.14", "torch": "2.5",
                                         "onnxruntime": "1.20"},
                            "threadpools": [], "isa": "avx2+fma",
                            "git": {"commit": COMMIT, "dirty": False}},
            "rows": rows}


def _tables(text):
    """``[(heading, lines above the table since that heading, head, body)]`` of Markdown
    ``text``, each body a list of cell lists."""
    found, heading, above, lines = [], None, [], text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("#"):
            heading, above = line, []
        elif line.startswith("|"):
            block = []
            while i < len(lines) and lines[i].startswith("|"):
                block.append([c.strip() for c in lines[i].strip("|").split(" | ")])
                i += 1
            found.append((heading, list(above), block[0], block[2:]))
            above = []
            continue
        elif line.strip():
            above.append(line)
        i += 1
    return found


def _ms(row):
    return "FAILED" if row["status"] == "FAILED" else f"{row['seconds'] * 1e3:.3f}"


def test_every_row_appears_in_its_table():
    report = _report()
    tables = _tables(markdown.format_markdown(report))
    by_heading = {}
    for heading, _, _head, body in tables:
        by_heading.setdefault(heading, []).extend(body)
    pool = by_heading["## Pooling against NumPy"]
    model = by_heading["## The classifier: `intent`"]
    width = by_heading["## The seed's two-accumulator split"]
    shown = 0
    for r in report["rows"]:
        if r["section"] in ("feature_map", "conv_pool", "baseline"):
            body = by_heading[f"#### `{r['workload']}`, {r['dtype']}"]
            kernel = "reference" if r["section"] == "baseline" else r["section"]
            variant = markdown.PEERS.get(r["variant"]) if kernel == "reference" else r["variant"]
            want = [kernel, variant, str(r["threads"]), _ms(r)]
        elif r["section"] == "pool":
            body, want = pool, [r["workload"], r["variant"], r["dtype"], "1", _ms(r)]
        elif r["section"] == "width":
            base, w = r["workload"].split("/w")
            parity = "even" if int(w) % 2 == 0 else "odd"
            body, want = width, [base, f"{w} ({parity})", r["variant"], r["dtype"], "1", _ms(r)]
        elif r["variant"] == "suite":
            body = model
            want = [r["workload"].split("/")[1], r["dtype"], "1",
                    markdown.duration(r["seconds"]), markdown.duration(r["p99"])]
        else:
            # A peer's time is a column of TextCNN's row of the same case and dtype.
            own = [c for c in model if c[:2] == [r["workload"].split("/")[1], r["dtype"]]]
            assert len(own) == 1
            assert markdown.duration(r["seconds"]) in own[0]
            continue
        matches = [cells for cells in body if cells[:len(want)] == want]
        assert len(matches) == 1, (r, want)
        for ratio in r["speedups"].values():
            assert f"{ratio:.2f}" in matches[0], (r, matches[0])
        shown += 1
    peers = sum(r["section"] == "model" and r["variant"] != "suite" for r in report["rows"])
    assert shown == sum(len(body) for *_, body in tables) == len(report["rows"]) - peers


def test_each_table_is_headed_by_machine_commit_and_command():
    tables = _tables(markdown.format_markdown(_report()))
    assert len(tables) == 6   # utterance in two dtypes, kim-mr-b64, pool, model, width
    for heading, above, _head, _ in tables:
        lines = [line for line in above if line.startswith("Machine: ")]
        assert len(lines) == 1, heading
        line = lines[0]
        assert "Test CPU 9000, 4 cores, kernels' build `avx2+fma`" in line
        assert f"Commit: `{COMMIT[:7]}` (clean)" in line
        assert line.endswith(f"Command: `{COMMAND}`")


def test_a_run_with_capped_instruction_sets_says_so_over_every_table():
    report = _report()
    report["environment"]["isa_caps"] = {"SUITE_NO_AVX512": "1", "ATEN_CPU_CAPABILITY": "avx2"}
    report["environment"]["torch_isa"] = "AVX2"
    text = markdown.format_markdown(report)
    caps = "(instruction sets capped: `ATEN_CPU_CAPABILITY=avx2`, `SUITE_NO_AVX512=1`)"
    tables = _tables(text)
    for heading, above, _head, _ in tables:
        assert caps in " ".join(above), heading
    assert f"kernels' build `avx2+fma` {caps}" in text.split("## ", 2)[1]
    assert "torch 2.5 (CPU capability AVX2)" in text
    # Without caps, no clause.
    assert "capped" not in markdown.format_markdown(_report())


def test_the_tables_say_which_figures_are_of_one_thread():
    for heading, above, head, body in _tables(markdown.format_markdown(_report())):
        threads = {cells[head.index("threads")] for cells in body}
        note = " ".join(above)
        if threads == {"1"}:
            assert "Every figure here is of one thread." in note, heading
        else:
            assert threads == {"1", "2"} and "threads column says 2" in note, heading


def test_the_classifier_table_compares_with_the_peers_in_the_report():
    text = markdown.format_markdown(_report())
    (head, body), = [(h, b) for heading, _, h, b in _tables(text) if "classifier" in heading]
    assert head[-4:] == ["ONNX Runtime p50", "x ONNX Runtime", "PyTorch p50", "x PyTorch"]
    float64 = [cells for cells in body if cells[1] == "float64"]
    assert float64[0][-4:-2] == ["-", "-"]     # no ONNX Runtime in float64
    report = _report()
    report["rows"] = [r for r in report["rows"]
                      if r["variant"] not in ("torch", "onnxruntime") or r["section"] != "model"]
    for r in report["rows"]:
        if r["section"] == "model":
            r["speedups"] = {}
    text = markdown.format_markdown(report)
    (head, _), = [(h, b) for heading, _, h, b in _tables(text) if "classifier" in heading]
    assert not any("PyTorch" in c or "ONNX" in c for c in head)
    assert "ONNX Runtime and PyTorch are not in this report" in text


def test_failed_rows_are_listed_with_their_reason():
    text = markdown.format_markdown(_report())
    assert "## Failed checks" in text
    assert "feature_map `loops` on utterance, float64, 1 thread: output differs" in text


def test_a_report_older_than_the_isa_and_command_records_still_reads():
    report = _report()
    del report["environment"]["isa"], report["settings"]["command"]
    text = markdown.format_markdown(report)
    assert "kernels' build not recorded" in text and "`avx2+fma`" not in text
    # The command is rebuilt from the settings, and says so.
    rebuilt = ("python -m suite run --quick --workload utterance --workload kim-mr-b64 "
               "--workload intent --variant loops --variant seed --variant tiles "
               "--variant simd --variant parallel --variant max --variant kmax")
    assert markdown.command(report) == (rebuilt, False)
    assert all(f"Command: `{rebuilt}` (rebuilt from the settings" in " ".join(above)
               for _, above, _, _ in _tables(text))
    from suite.report import Settings
    defaults = {k: v for k, v in vars(Settings()).items() if k != "command"}
    report["settings"] = copy.deepcopy(defaults)
    assert markdown.command(report) == ("python -m suite run", False)
    report["settings"]["repeat"] = 7
    assert markdown.command(report) == ("not recorded", False)
    report["environment"]["git"] = None
    assert "Commit: not recorded" in markdown.format_markdown(report)


def test_the_command_writes_the_output_and_only_it(tmp_path):
    report = _report()
    source, out = tmp_path / "r.json", tmp_path / "perf.md"
    source.write_text(json.dumps(report))
    done = _suite("markdown", str(source), "--output", str(out))
    assert done.returncode == 0 and done.stdout == "" and done.stderr == "", done.stderr
    assert out.read_text() == markdown.format_markdown(report, str(out))
    assert f"--output {out}`" in out.read_text()
    done = _suite("markdown", str(source))
    assert done.returncode == 0 and done.stdout == markdown.format_markdown(report)
    assert "--output docs/performance.md`" in done.stdout


def test_a_quick_run_records_its_command_and_build(tmp_path):
    import suite._runtime
    source = tmp_path / "r.json"
    done = _suite("run", "--quick", "--no-progress", "--workload", "utterance", "--dtype",
                  "float32", "--variant", "loops", "--variant", "seed", "--json",
                  str(source), timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(source.read_text())
    command = ("python -m suite run --quick --no-progress --workload utterance --dtype "
               f"float32 --variant loops --variant seed --json {source}")
    assert report["settings"]["command"] == command
    assert report["environment"]["isa"] == suite._runtime.ISA
    tables = _tables(markdown.format_markdown(markdown.read_report(str(source))))
    assert tables
    for _, above, _, _ in tables:
        assert f"kernels' build `{suite._runtime.ISA}`" in " ".join(above)
        assert f"Command: `{command}`" in " ".join(above)


def _bad_reports():
    good = _report()

    def without(*path):
        report = copy.deepcopy(good)
        target = report
        for key in path[:-1]:
            target = target[key]
        del target[path[-1]]
        return json.dumps(report)

    def changed(value, *path):
        report = copy.deepcopy(good)
        target = report
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value
        return json.dumps(report)

    return {
        "not JSON": ("{\"rows\": [", "is not JSON"),
        "not UTF-8": (b"\xff\xfe{}", "is not JSON"),
        "an array": ("[]", "holds an array, not an object"),
        "no rows": (without("rows"), "has no 'rows'"),
        "rows not an array": (changed({}, "rows"), "'rows' is an object, not an array"),
        "a row without its section": (without("rows", 3, "section"),
                                      "rows[3]['section'] is missing"),
        "threads a string": (changed("2", "rows", 0, "threads"),
                             "rows[0]['threads'] is not a positive integer"),
        "seconds a string": (changed("fast", "rows", 1, "seconds"),
                             "rows[1]['seconds'] is a string"),
        "speedups a list": (changed([2.0], "rows", 1, "speedups"),
                            "rows[1]['speedups'] is not an object of numbers"),
        "a GEMM peak of null": (changed(None, "gemm_gflops", "float64"),
                                "gemm_gflops['float64'] is null"),
        "git a string": (changed("abc", "environment", "git"),
                         "environment['git'] is a string"),
        "caps a list": (changed(["SUITE_NO_AVX512"], "environment", "isa_caps"),
                        "environment['isa_caps'] is an array"),
        "a cap a number": (changed({"SUITE_NO_AVX512": 1}, "environment", "isa_caps"),
                           "environment['isa_caps'] has a value that is not a string"),
    }


@pytest.mark.parametrize("case", list(_bad_reports()))
def test_a_bad_report_fails_in_one_line_and_writes_nothing(tmp_path, case):
    content, reason = _bad_reports()[case]
    source, out = tmp_path / "r.json", tmp_path / "perf.md"
    (source.write_bytes if isinstance(content, bytes) else source.write_text)(content)
    done = _suite("markdown", str(source), "--output", str(out))
    assert done.returncode == 2, done.stdout + done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(
        f"python -m suite: error: REPORT.json: '{source}' "), done.stderr
    assert reason in lines[0]
    assert done.stdout == "" and not out.exists()


@pytest.mark.parametrize("where", ["missing", "a directory"])
def test_an_unreadable_report_fails_in_one_line(tmp_path, where):
    source = tmp_path / "no-such.json" if where == "missing" else tmp_path
    done = _suite("markdown", str(source))
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(
        f"python -m suite: error: REPORT.json: cannot read '{source}': "), done.stderr
    assert done.stdout == ""


@pytest.mark.parametrize("where", ["missing directory", "a directory", "under a file"])
def test_an_unwritable_output_fails_before_the_report_is_read(tmp_path, where):
    (tmp_path / "plain").write_text("kept")
    path = {"missing directory": tmp_path / "no" / "such" / "perf.md",
            "a directory": tmp_path,
            "under a file": tmp_path / "plain" / "perf.md"}[where]
    source = tmp_path / "r.json"
    source.write_text(json.dumps(_report()))
    done = _suite("markdown", str(source), "--output", str(path))
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(
        f"python -m suite: error: --output: cannot write '{path}'"), done.stderr
    assert done.stdout == "" and (tmp_path / "plain").read_text() == "kept"


@pytest.mark.parametrize("args", [["markdown"], ["markdown", "a.json", "--plot", "x.png"]])
def test_bad_arguments_give_a_usage_error(args):
    done = _suite(*args)
    assert done.returncode == 2 and "usage:" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize("name", ["performance.md", "performance-avx2.md"])
def test_the_generated_document_is_the_report_of_its_own_json(name):
    # The reports in docs/ are generated: each names the command that made it, and each of
    # its tables is headed by where its figures come from.
    with open(os.path.join(ROOT, "docs", name)) as f:
        text = f.read()
    assert f"python -m suite markdown REPORT.json --output docs/{name}`" in text
    tables = _tables(text)
    assert tables and all(any(re.match(r"Machine: .* · Commit: .* · Command: ", line)
                              for line in above) for _, above, _, _ in tables)
