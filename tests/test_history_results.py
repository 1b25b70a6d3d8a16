"""``python -m suite history``: toolchains, result files, merge and check, without building.

The result files here are written as asv writes them (format 2: ``result_columns``, one
row of columns per benchmark); the cases that build commits and run a Dask cluster are
in test_history_dask.py.
"""
import json
import math
import os
import shutil
import subprocess
import sys

import pytest

from suite.history import _cli, _results, _toolchain

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOOLCHAIN = {
    "compiler": "gcc (Debian 12.2.0-14) 12.2.0", "build_flags": "none",
    "python": "3.11.7 (main, May  9 2026, 07:35:25) [GCC 12.2.0]", "libc": "glibc 2.36",
    "numpy": "2.4.6", "scipy": "1.17.1", "cython": "3.3.1", "valgrind": "valgrind-3.19.0",
    "blas_under_valgrind": "openblas 0.3.30 Haswell", "kernel_build_under_valgrind": "avx2"}
COLUMNS = ["result", "params", "version", "started_at", "duration", "stats_ci_99_a",
           "stats_ci_99_b", "stats_q_25", "stats_q_75", "stats_number", "stats_repeat"]
COUNT = "instructions.Instructions.track_instructions"
CONTROL = "feature_map.Correlate2d.time_correlate2d"
TIMING = "feature_map.FeatureMap.time_feature_map"
BENCHMARKS = {COUNT: {"unit": "instructions"}, CONTROL: {"unit": "seconds"},
              TIMING: {"unit": "seconds"}, "version": 2}
PARAMS = [["'utterance'", "'kim-mr'"], ["'float64'", "'float32'"]]


def _row(values, spread=None):
    row = [values, PARAMS, "v", 1, 2.0]
    if spread is not None:
        row += [None, None, [v * (1 - spread / 2) for v in values],
                [v * (1 + spread / 2) for v in values], [1] * 4, [10] * 4]
    return row


def _result(commit, machine, results):
    return {"commit_hash": commit, "env_name": "virtualenv-py3.11", "date": 1, "python": "3.11",
            "params": {"machine": machine, "python": "3.11"}, "requirements": {},
            "env_vars": {}, "result_columns": COLUMNS, "results": results,
            "durations": {}, "version": 2}


def _write(results_dir, machine_info, commit, results):
    name = machine_info["machine"]
    _results.write_json(os.path.join(results_dir, name, "machine.json"), machine_info)
    _results.write_json(os.path.join(results_dir, "benchmarks.json"), BENCHMARKS)
    path = os.path.join(results_dir, name, f"{commit[:8]}-virtualenv-py3.11.json")
    _results.write_json(path, _result(commit, name, results))
    return path


def _counted_machine(toolchain=TOOLCHAIN):
    return _toolchain.machine_record(toolchain, {"machine": "host", "os": "Linux",
                                                "arch": "x86_64", "cpu": "x", "num_cpu": "2",
                                                "ram": "1", "version": 1})


def _tree(directory):
    """Every file under ``directory``, parsed: relative path -> JSON."""
    out = {}
    for base, _, names in os.walk(directory):
        for name in names:
            path = os.path.join(base, name)
            with open(path) as f:
                out[os.path.relpath(path, directory)] = json.load(f)
    return out


# Toolchains and machine names.

def test_machine_name_is_readable_and_changes_with_every_fact():
    name = _toolchain.machine_name(TOOLCHAIN)
    assert name.startswith("counts-gcc12.2.0-py3.11.7-avx2-")
    names = {name}
    for field in _toolchain.FIELDS:
        names.add(_toolchain.machine_name(dict(TOOLCHAIN, **{field: TOOLCHAIN[field] + "x"})))
    assert len(names) == len(_toolchain.FIELDS) + 1


def test_differences_name_the_fact():
    found = dict(TOOLCHAIN, build_flags="CFLAGS=-O1")
    assert _toolchain.differences(TOOLCHAIN, TOOLCHAIN) == []
    (line,) = _toolchain.differences(TOOLCHAIN, found)
    assert line.startswith("build_flags: 'CFLAGS=-O1'") and "expected 'none'" in line


def test_machine_record_reads_back():
    record = _counted_machine()
    assert _toolchain.facts(record) == TOOLCHAIN
    assert record["machine"] == _toolchain.machine_name(TOOLCHAIN)
    assert all(isinstance(v, str) for v in record.values())  # asv shows each field


@pytest.mark.parametrize(("features", "environ", "build"), [
    (["SSE2"], {}, "baseline"),
    (["AVX2"], {}, "baseline"),
    (["AVX2", "FMA3"], {}, "avx2"),
    (["AVX2", "FMA3", "AVX512F"], {}, "avx2"),
    (["AVX2", "FMA3", "AVX512F", "AVX512VL"], {}, "avx512"),
    (["AVX2", "FMA3", "AVX512F", "AVX512VL"], {"SUITE_NO_AVX512": "1"}, "avx2"),
    (["AVX2", "FMA3", "AVX512F", "AVX512VL"], {"SUITE_NO_AVX2": "1"}, "baseline"),
    (["AVX2", "FMA3"], {"SUITE_NO_AVX2": "0"}, "avx2"),
])
def test_kernel_build_follows_the_runtime_rule(features, environ, build):
    assert _toolchain.kernel_build(features, environ) == build


def test_kernel_build_matches_the_runtime_here():
    """Outside valgrind, the rule gives the build suite._runtime chose on this CPU."""
    from suite import _runtime
    try:
        from numpy._core._multiarray_umath import __cpu_features__ as features
    except ImportError:
        from numpy.core._multiarray_umath import __cpu_features__ as features
    found = [k for k, v in features.items() if v]
    assert _toolchain.kernel_build(found) == _runtime.ISA


def test_compiler_command_drops_ccache():
    assert _toolchain.compiler_command({"CC": "ccache gcc -m64"}) == ["gcc", "-m64"]
    assert _toolchain.compiler_command({"CC": "/usr/bin/ccache cc"}) == ["cc"]


@pytest.mark.skipif(shutil.which("valgrind") is None, reason="valgrind is not installed")
def test_probe_reads_this_python_under_valgrind():
    import numpy
    import scipy

    found = _toolchain.probe(sys.executable)
    assert list(found) == list(_toolchain.FIELDS)
    assert found["numpy"] == numpy.__version__ and found["scipy"] == scipy.__version__
    # valgrind emulates no AVX-512: the kernels it runs are at most the AVX2 build.
    assert found["kernel_build_under_valgrind"] in ("avx2", "baseline")
    assert found["valgrind"].startswith("valgrind-")
    assert "openblas" in found["blas_under_valgrind"].lower()


def test_probe_without_valgrind_says_so(tmp_path):
    with pytest.raises(_toolchain.ToolchainError, match="valgrind is not installed"):
        _toolchain.probe(sys.executable, valgrind=str(tmp_path / "valgrind"))


# Splitting counted and wall-clock results.

def test_split_files_counts_and_timings_apart():
    result = _result("a" * 40, "m", {COUNT: _row([1, 2, 3, 4]), TIMING: _row([0.1] * 4)})
    counted, wall = _results.split(result, BENCHMARKS)
    assert list(counted["results"]) == [COUNT] and list(wall["results"]) == [TIMING]
    only_counts = _result("a" * 40, "m", {COUNT: _row([1, 2, 3, 4])})
    assert _results.split(only_counts, BENCHMARKS)[1] is None
    failed_build = _result("a" * 40, "m", {})
    counted, wall = _results.split(failed_build, BENCHMARKS)
    assert counted == failed_build and wall is None


# merge.

def test_merge_of_two_shards_equals_one_run_over_both(tmp_path):
    machine = _counted_machine()
    one = tmp_path / "one"
    for commit, values in (("a" * 40, [1, 2, 3, 4]), ("b" * 40, [5, 6, 7, 8])):
        _write(one, machine, commit, {COUNT: _row(values)})
        _write(tmp_path / f"shard-{commit[0]}", machine, commit, {COUNT: _row(values)})
    counts = _results.merge([tmp_path / "shard-a", tmp_path / "shard-b"], tmp_path / "into",
                            log=lambda line: None)
    assert counts == {"added": 2, "merged": 0, "machines": 1}
    assert _tree(tmp_path / "into") == _tree(one)
    # Merged again, or a file given twice: the same results, nothing new.
    _results.merge([tmp_path / "shard-a", one], tmp_path / "into", log=lambda line: None)
    assert _tree(tmp_path / "into") == _tree(one)


def test_merge_refuses_other_counts_for_the_same_commit_and_toolchain(tmp_path):
    machine = _counted_machine()
    _write(tmp_path / "x", machine, "c" * 40, {COUNT: _row([1, 2, 3, 4])})
    _write(tmp_path / "y", machine, "c" * 40, {COUNT: _row([1, 2, 3, 5])})
    with pytest.raises(_results.ResultsError) as error:
        _results.merge([tmp_path / "x", tmp_path / "y"], tmp_path / "into",
                       log=lambda line: None)
    message = str(error.value)
    assert "commit cccccccc" in message and machine["machine"] in message
    assert f"{COUNT}('kim-mr', 'float32'): 4 against 5" in message
    assert not (tmp_path / "into").exists()  # refused before anything is written


def test_merge_keeps_machines_apart(tmp_path):
    ours = _counted_machine()
    theirs = _counted_machine(dict(TOOLCHAIN, numpy="2.5.0"))
    _write(tmp_path / "x", ours, "d" * 40, {COUNT: _row([1, 2, 3, 4])})
    _write(tmp_path / "y", theirs, "d" * 40, {COUNT: _row([9, 9, 9, 9])})
    _results.merge([tmp_path / "x", tmp_path / "y"], tmp_path / "into", log=lambda line: None)
    assert set(_results.machines(tmp_path / "into")) == {ours["machine"], theirs["machine"]}


def test_merge_joins_shards_of_benchmarks(tmp_path):
    machine = _counted_machine()
    other = "instructions.PoolInstructions.track_instructions"
    _write(tmp_path / "x", machine, "e" * 40, {COUNT: _row([1, 2, 3, 4])})
    _write(tmp_path / "y", machine, "e" * 40, {other: _row([5, 6, 7, 8])})
    _results.merge([tmp_path / "x", tmp_path / "y"], tmp_path / "into", log=lambda line: None)
    (path,) = _results.result_files(tmp_path / "into", machine["machine"]).values()
    assert set(_results.load_json(path)["results"]) == {COUNT, other}


def test_merge_refuses_one_machine_described_twice(tmp_path):
    machine = _counted_machine()
    _write(tmp_path / "x", machine, "f" * 40, {COUNT: _row([1, 2, 3, 4])})
    _write(tmp_path / "y", dict(machine, cpu="other"), "f" * 40, {COUNT: _row([1, 2, 3, 4])})
    with pytest.raises(_results.ResultsError, match="describes it differently"):
        _results.merge([tmp_path / "x", tmp_path / "y"], tmp_path / "into",
                       log=lambda line: None)


# check.

def _timings(results_dir, values_by_commit, spread=None):
    machine = {"machine": "bench-host", "os": "Linux", "version": 1}
    for commit, seconds in values_by_commit.items():
        _write(results_dir, machine, commit, {CONTROL: _row([seconds] * 4, spread),
                                              TIMING: _row([seconds * 10] * 4, spread)})


def test_check_passes_a_steady_control(tmp_path):
    _timings(tmp_path, {"1" * 40: 8.0e-3, "2" * 40: 9.1e-3, "3" * 40: 7.6e-3})
    assert _results.check(str(tmp_path)) == []


def test_check_flags_a_control_that_moves(tmp_path):
    # The lazy import of scipy.signal inside the first timed call: 25 / 18 / 539 ms.
    _timings(tmp_path, {"1" * 40: 25e-3, "2" * 40: 18e-3, "3" * 40: 539e-3})
    problems = _results.check(str(tmp_path))
    assert len(problems) == 4  # each workload and dtype
    assert all(p.startswith(f"control series moves: {CONTROL}(") for p in problems)
    assert "0.539 at 33333333 against 0.018 at 22222222 (29.94x" in problems[0]


def test_check_allows_a_control_its_spread_explains(tmp_path):
    _timings(tmp_path, {"1" * 40: 10e-3, "2" * 40: 19e-3}, spread=0.2)
    assert _results.check(str(tmp_path)) == []
    _timings(tmp_path, {"1" * 40: 10e-3, "2" * 40: 19e-3}, spread=0.05)
    assert len(_results.check(str(tmp_path))) == 4


def test_check_flags_a_toolchain_mismatch(tmp_path):
    machine = _counted_machine()
    _write(tmp_path, machine, "a" * 40, {COUNT: _row([1, 2, 3, 4])})
    assert _results.check(str(tmp_path)) == []
    os.rename(tmp_path / machine["machine"], tmp_path / "counts-renamed")
    problems = _results.check(str(tmp_path))
    assert any(p.startswith("toolchain mismatch: machine counts-renamed records the "
                            f"toolchain of {machine['machine']}") for p in problems)
    assert any("is a result of machine " + machine["machine"] in p for p in problems)


# The command line: every bad argument is one line naming it, exit status 2.

def _main(*argv):
    proc = subprocess.run([sys.executable, "-m", "suite", "history", *argv], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    return proc.returncode, proc.stdout, proc.stderr


@pytest.mark.parametrize(("argv", "named"), [
    (["run", "--workers", "0"], "--workers: must be at least 1"),
    (["run", "--workers", "two"], "--workers: expected an integer, got 'two'"),
    (["run", "--retries", "-1"], "--retries: must be at least 0"),
    (["run", "--steps", "1.5"], "--steps: expected an integer"),
    (["run", "--bench", "("], "--bench: not a regular expression"),
    (["run", "--config", "no/such/asv.conf.json"], "--config: no asv configuration"),
    (["run", "--scheduler", "nowhere"], "--scheduler: expected an address"),
    (["run", "--results", "README.md"], "--results: 'README.md' is not a directory"),
    (["check", "--results", "no/such/dir"], "--results: no/such/dir: not a directory"),
    (["merge", "no/such/dir", "--into", "x"], "DIR: 'no/such/dir' is not a directory"),
    (["merge", "tests", "--into", "README.md"], "--into: 'README.md' is not a directory"),
])
def test_bad_arguments_exit_2_naming_them(argv, named):
    status, out, err = _main(*argv)
    assert status == 2 and out == ""
    assert err.count("\n") == 1 and named in err, err


def test_run_without_the_extra_says_what_to_install(tmp_path):
    # dask installed but broken: it cannot be imported, as when it is missing.
    (tmp_path / "dask").mkdir()
    (tmp_path / "dask" / "__init__.py").write_text("raise ImportError('no dask here')\n")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(tmp_path), ROOT]))
    proc = subprocess.run([sys.executable, "-m", "suite", "history", "run"], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and proc.stdout == ""
    assert "history run needs dask" in proc.stderr
    assert proc.stderr.rstrip().endswith("pip install 'textcnn-suite[history]'")


def test_check_and_merge_from_the_command_line(tmp_path):
    _timings(tmp_path / "steady", {"1" * 40: 8.0e-3, "2" * 40: 9.1e-3})
    status, out, _ = _main("check", "--results", str(tmp_path / "steady"))
    assert status == 0 and out.strip().endswith("1 machine, no problem found")
    _timings(tmp_path / "moved", {"1" * 40: 8.0e-3, "2" * 40: 539e-3})
    status, out, _ = _main("check", "--results", str(tmp_path / "moved"))
    assert status == 1 and out.count("control series moves") == 4
    machine = _counted_machine()
    _write(tmp_path / "x", machine, "c" * 40, {COUNT: _row([1, 2, 3, 4])})
    _write(tmp_path / "y", machine, "c" * 40, {COUNT: _row([1, 2, 3, 5])})
    status, out, err = _main("merge", str(tmp_path / "x"), str(tmp_path / "y"),
                             "--into", str(tmp_path / "into"))
    assert status == 1 and "refused, nothing written: commit cccccccc" in err
    status, out, _ = _main("merge", str(tmp_path / "x"), "--into", str(tmp_path / "into"))
    assert status == 0 and "1 result files added" in out


def test_parse_gives_the_defaults():
    args = _cli.parse(["run", "NEW"])
    assert args.ranges == ["NEW"] and args.bench == r"^instructions\."
    assert args.workers is None and args.retries == "2"


def test_nan_values_are_the_same():
    assert _results._same(math.nan, math.nan) and not _results._same(1.0, math.nan)


def test_inclusive_counts_agree_within_their_slack():
    inclusive = "instructions.PoolInstructions.track_inclusive_instructions"
    kernel = "instructions.PoolInstructions.track_instructions"
    assert _results.same_counts(inclusive, 168499, 171183)       # 2,684 apart
    assert not _results.same_counts(inclusive, 168499, 178499)   # 10,000 apart
    assert _results.same_counts(inclusive, 10**8, 10**8 + 400_000)
    assert not _results.same_counts(inclusive, 10**8, 10**8 + 600_000)
    assert _results.same_counts(kernel, 2684773, 2686273)        # OpenBLAS's buffers
    assert not _results.same_counts(kernel, 168499, 168699)
