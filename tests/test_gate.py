"""The instruction-count gate: deterministic counts, and asv continuous catching a regression.

The asv cases build real commits made in a throw-away clone, with the command
benchmarks/README.md gives under "Performance gate".  The clone's asv environments live in
this checkout's ``.asv/env``: created once, shared by both cases, and left for
``.ci/gate``, which then finds HEAD already built.  They are slow (minutes) and marked ``gate``:
``pytest -m "not gate"`` leaves them out.
"""
import json
import os
import re
import shutil
import subprocess
import sys

import pytest

from benchmarks import instructions

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
needs_valgrind = pytest.mark.skipif(shutil.which("valgrind") is None,
                                    reason="valgrind is not installed")
gate = pytest.mark.gate


def _readme_command(base, head):
    """The gate command from benchmarks/README.md's "Performance gate", for base and head."""
    with open(os.path.join(ROOT, "benchmarks", "README.md")) as f:
        text = f.read()
    section = text.split("## Performance gate", 1)[1].split("\n## ", 1)[0]
    lines = [line.strip() for line in section.splitlines()
             if line.strip().startswith("asv continuous") and "<base>" in line]
    assert lines, ("benchmarks/README.md's Performance gate section gives no "
                   "`asv continuous` command")
    return lines[0].replace("<base>", base).replace("<head>", head).split()


def _git(repo, *args):
    return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True,
                          text=True).stdout.strip()


def _commit(repo, message):
    _git(repo, "-c", "user.name=gate test", "-c", "user.email=gate@test.invalid",
         "commit", "-qam", message)
    return _git(repo, "rev-parse", "HEAD")


def test_skip_reason_without_valgrind(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    reason = instructions.unavailable()
    assert reason is not None and "valgrind is not installed" in reason
    bench = instructions.Instructions()
    with pytest.raises(NotImplementedError, match="valgrind is not installed"):
        bench.setup({"skip": reason}, "utterance", "loops", "float64")


def test_cases_cover_the_registry():
    from suite.registry import DTYPES, FEATURE_MAP
    keys = {instructions.case_key(*case) for case in instructions.cases()}
    assert keys == {instructions.case_key(w, v, d) for w in ("utterance", "kim-mr")
                    for v in FEATURE_MAP for d in DTYPES}


@gate
@needs_valgrind
def test_counts_identical_run_to_run():
    # Every variant and dtype on the short workload: the heavy loop nests on kim-mr add
    # minutes under callgrind and nothing to what is being shown.
    cases = [case for case in instructions.cases() if case[0] == "utterance"]
    first = instructions.count(cases)
    second = instructions.count(cases)
    print("first: ", first)
    print("second:", second)
    assert set(first) == {instructions.case_key(*case) for case in cases}
    assert all(value > 100_000 for value in first.values())
    assert first == second


def _first_commit_clone(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    _git(src, "init", "-q")
    (src / "a").write_text("a\n")
    _git(src, "add", "a")
    _commit(src, "first")
    shutil.copytree(os.path.join(ROOT, ".ci"), src / ".ci")
    return src


@needs_valgrind
def test_ci_gate_skips_first_commit(tmp_path):
    repo = _first_commit_clone(tmp_path)
    proc = subprocess.run(["bash", ".ci/gate"], cwd=repo, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "first commit" in proc.stdout and "skipped" in proc.stdout


@needs_valgrind
def test_ci_gate_skips_shallow_clone(tmp_path):
    repo = tmp_path / "shallow"
    _git(tmp_path, "clone", "-q", "--depth", "1", f"file://{ROOT}", str(repo))
    proc = subprocess.run(["bash", ".ci/gate"], cwd=repo, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "shallow clone" in proc.stdout and "skipped" in proc.stdout


@pytest.fixture(scope="module")
def clone(tmp_path_factory):
    """A clone of this repository with a home of its own for asv's machine file."""
    tmp = tmp_path_factory.mktemp("gate")
    repo = tmp / "repo"
    _git(tmp, "clone", "-q", ROOT, str(repo))
    config_path = repo / "asv.conf.json"
    config = json.loads(config_path.read_text())
    config["env_dir"] = os.path.join(ROOT, ".asv", "env")
    config_path.write_text(json.dumps(config, indent=4))
    _git(repo, "update-index", "--assume-unchanged", "asv.conf.json")
    env = dict(os.environ, HOME=str(tmp / "home"))
    env.setdefault("PIP_CACHE_DIR", os.path.join(os.path.expanduser("~"), ".cache", "pip"))
    os.makedirs(env["HOME"])
    subprocess.run([sys.executable, "-m", "asv", "machine", "--yes"], cwd=repo, env=env,
                   check=True, capture_output=True)
    return repo, env, _git(repo, "rev-parse", "HEAD")


def _gate(repo, env, base, head):
    command = _readme_command(base, head)
    assert command[:2] == ["asv", "continuous"]
    proc = subprocess.run([sys.executable, "-m", *command], cwd=repo, env=env,
                          capture_output=True, text=True, timeout=900)
    return proc.returncode, proc.stdout + proc.stderr


@gate
@needs_valgrind
def test_gate_passes_a_commit_that_changes_no_kernel(clone):
    repo, env, base = clone
    conv = repo / "pyx" / "suite" / "_conv.pyx"
    conv.write_text("# Kernels are counted by benchmarks/instructions.py.\n" + conv.read_text())
    head = _commit(repo, "comment only")
    status, output = _gate(repo, env, base, head)
    assert status == 0, output
    assert "BENCHMARKS NOT SIGNIFICANTLY CHANGED" in output, output


@gate
@needs_valgrind
def test_gate_fails_a_kernel_doing_ten_percent_more_work(clone):
    repo, env, _ = clone
    base = _git(repo, "rev-parse", "HEAD")
    conv = repo / "pyx" / "suite" / "_conv.pyx"
    source = conv.read_text()
    # After the loop core's call, compute the first tenth of the channels a second time:
    # the output is unchanged, the work grows by 10%.
    call = re.search(r"if core == LOOPS:\n( +)(fmap_loops\(g, [^\n]*\))\n", source)
    assert call, "fmap_core no longer calls fmap_loops(g, ...) for LOOPS: update this patch"
    indent, line = call.group(1), call.group(2)
    extra = f"{indent}g.channels = max(1, g.channels // 10)\n{indent}{line}\n"
    conv.write_text(source[:call.end()] + extra + source[call.end():])
    head = _commit(repo, "recompute a tenth of the loop kernel's channels")
    status, output = _gate(repo, env, base, head)
    assert status == 1, output
    assert "PERFORMANCE DECREASED" in output, output
    # asv's table rows: | Change | Before | After | Ratio | Benchmark (Parameter) |
    worse = [line for line in output.splitlines()
             if line.startswith("|") and line.split("|")[1].strip() == "+"]
    assert any("track_instructions" in line and "'loops'" in line for line in worse), output
    assert not any("'blas'" in line for line in worse), output
