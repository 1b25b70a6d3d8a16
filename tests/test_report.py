"""``python -m suite run``: consistent figures, all checks passed, usage errors for bad input."""
import json
import os
import statistics
import subprocess
import sys

import pytest

from suite.registry import CONV_POOL, FEATURE_MAP, POOL
from suite.workloads import INTENT, WORKLOADS

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# The quick report (a minute) is made once per module: with pytest-xdist, on one worker.
pytestmark = pytest.mark.xdist_group("quick-report")


def _suite(*args, timeout=300):
    return subprocess.run([sys.executable, "-m", "suite", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def quick_report(tmp_path_factory):
    path = tmp_path_factory.mktemp("report") / "report.json"
    done = _suite("run", "--quick", "--no-progress", "--json", str(path))
    assert done.returncode == 0, done.stdout + done.stderr
    with open(path) as f:
        return json.load(f), done.stdout


def test_quick_report_checks_every_variant_and_passes(quick_report):
    report, _ = quick_report
    rows = report["rows"]
    checked = [r for r in rows if r["section"] != "baseline"]
    assert checked and all(r["status"] == "passed" for r in checked)
    assert all(r["status"] == "reference" for r in rows if r["section"] == "baseline")
    for kernel, registry in (("feature_map", FEATURE_MAP), ("conv_pool", CONV_POOL),
                             ("pool", POOL)):
        assert {r["variant"] for r in rows if r["section"] == kernel} == set(registry)
    assert {r["workload"] for r in rows if r["section"] == "feature_map"} == set(WORKLOADS)
    assert {r["workload"] for r in rows if r["section"] == "model"} == {
        f"intent/{case}" for case in INTENT.cases}
    assert {r["variant"] for r in rows if r["section"] == "model"} >= {"suite"}
    assert {r["variant"] for r in rows if r["section"] == "baseline"} >= {"correlate2d"}
    assert any(r["threads"] == 2 for r in rows if r["section"] == "feature_map")


def test_quick_report_figures_are_consistent(quick_report):
    report, _ = quick_report
    peaks = report["gemm_gflops"]
    assert set(peaks) == {"float64", "float32"} and all(p > 0 for p in peaks.values())
    timed = [r for r in report["rows"] if r["seconds"] is not None]
    assert len(timed) == len(report["rows"])
    for r in timed:
        assert r["seconds"] == pytest.approx(statistics.median(r["samples"]), rel=1e-12)
        if r["section"] == "model":
            case = r["workload"].split("/", 1)[1]
            assert r["flops"] == INTENT.flops(INTENT.tokens(case)[1])
            assert r["p99"] >= r["seconds"]
        elif r["flops"] is not None:
            base, _, width = r["workload"].partition("/w")
            workload = WORKLOADS[base].with_width(int(width)) if width else WORKLOADS[base]
            assert r["flops"] == workload.flops()
            assert r["gflops"] == pytest.approx(r["flops"] / r["seconds"] / 1e9, rel=1e-9)
            assert r["peak_percent"] == pytest.approx(
                100 * r["gflops"] / (peaks[r["dtype"]] * r["threads"]), rel=1e-9)
        assert all(s > 0 for s in r["speedups"].values())
    by_key = {(r["section"], r["workload"], r["dtype"], r["variant"], r["threads"]): r
              for r in timed}
    for (_section, wl, dt, _variant, _threads), r in by_key.items():
        if "correlate2d" in r["speedups"]:
            ref = by_key["baseline", wl, dt, "correlate2d", 1]
            # Round by round: the median of the per-round ratios, not of the medians.
            assert r["speedups"]["correlate2d"] == pytest.approx(statistics.median(
                a / b for a, b in zip(ref["samples"], r["samples"])), rel=1e-9)


def test_quick_report_records_the_environment(quick_report):
    report, stdout = quick_report
    env = report["environment"]
    assert env["versions"]["numpy"] and env["versions"]["scipy"] and env["versions"]["Cython"]
    assert env["machine"]["cores"] >= 1
    from suite import version
    assert len(version.git_revision) == 40 and isinstance(version.dirty, bool)
    assert env["git"] == {"commit": version.git_revision, "dirty": version.dirty}
    assert isinstance(env["threadpools"], list)
    assert report["settings"]["repeat"] == 1
    assert "GEMM peak" in stdout and "x correlate2d" in stdout


def test_the_environment_records_the_instruction_set_caps_set(monkeypatch):
    from suite.report.environment import ISA_CAPS, environment
    for name in ISA_CAPS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "AVX2")
    monkeypatch.setenv("SUITE_NO_AVX2", "")   # set but empty: not a cap
    env = environment()
    assert env["isa_caps"] == {"ONEDNN_MAX_CPU_ISA": "AVX2"}
    assert env["torch_isa"] is None


def test_the_environment_records_pytorch_s_cpu_capability():
    from suite.report.environment import environment
    torch = pytest.importorskip("torch")
    assert environment(torch)["torch_isa"] == torch.backends.cpu.get_cpu_capability()


def test_filters_and_plot(tmp_path):
    pytest.importorskip("matplotlib")
    png, js = tmp_path / "gflops.png", tmp_path / "r.json"
    done = _suite("run", "--quick", "--no-progress", "--workload", "utterance", "--dtype",
                  "float64", "--variant", "blas", "--variant", "max", "--json", str(js),
                  "--plot", str(png))
    assert done.returncode == 0, done.stdout + done.stderr
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    rows = json.loads(js.read_text())["rows"]
    assert {(r["section"], r["variant"]) for r in rows} == {
        ("feature_map", "blas"), ("conv_pool", "blas"), ("baseline", "correlate2d"),
        ("baseline", "fftconvolve")} | ({("baseline", "torch")} if any(
            r["variant"] == "torch" for r in rows) else set())
    assert {r["workload"] for r in rows} == {"utterance"}


@pytest.mark.parametrize("args", [
    [],
    ["run", "--workload", "no-such-workload"],
    ["run", "--variant", "no-such-variant"],
    ["run", "--dtype", "float16"],
    ["run", "--repeat", "3"],
    ["nonsense"],
])
def test_bad_arguments_give_a_usage_error(args):
    done = _suite(*args, timeout=60)
    assert done.returncode == 2
    assert "usage:" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize("option", ["--json", "--plot"])
@pytest.mark.parametrize("where", ["missing directory", "a directory", "under a file"])
def test_an_unwritable_output_fails_before_any_measurement(tmp_path, option, where):
    # (Not a read-only file: CI runs as root, who may write one.)
    (tmp_path / "plain").write_text("kept")
    path = {"missing directory": tmp_path / "no" / "such" / "r.out",
            "a directory": tmp_path,
            "under a file": tmp_path / "plain" / "r.out"}[where]
    done = _suite("run", "--quick", "--no-progress", "--workload", "intent", option,
                  str(path), timeout=60)
    assert done.returncode == 2, done.stdout + done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"python -m suite: error: {option}: "
                                                   f"cannot write '{path}'"), done.stderr
    assert done.stdout == ""                # nothing measured, nothing printed
    assert (tmp_path / "plain").read_text() == "kept"


def test_a_new_output_file_is_not_left_behind_by_the_check(tmp_path):
    from suite.__main__ import _unwritable

    path = tmp_path / "r.json"
    assert _unwritable(str(path)) is None and not path.exists()
    path.write_text("old")
    assert _unwritable(str(path)) is None and path.read_text() == "old"
