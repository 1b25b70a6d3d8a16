"""What CI runs: the commands of .ci/commands, as the READMEs quote them, and .ci/run's verdict.

``.ci/run`` and ``.ci/gate`` read their commands from ``.ci/commands`` alone; the READMEs
tell a reader to run the same ones.  These checks keep the two word for word the same, keep
the default test run free of the slow tests, and run ``.ci/run`` on stand-in commands to
see that it runs every part and fails when one does.
"""
import importlib.util
import os
import re
import shutil
import stat
import subprocess
import sys

import pytest

from ci_commands import NAMES, PATH, commands, read

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _text(*path):
    with open(os.path.join(ROOT, *path)) as f:
        return f.read()


def _section(text, heading):
    """The text under the Markdown heading ``heading`` (any level), to the next heading."""
    start = re.search(rf"^#+ {re.escape(heading)}\n", text, re.M)
    assert start, f"no heading {heading!r}"
    end = re.search(r"^#+ ", text[start.end():], re.M)
    return text[start.end():start.end() + end.start() if end else None]


def _code_lines(text):
    """The lines of the fenced ``sh``/``bash`` blocks and of the indented code blocks of
    Markdown ``text``, leading blanks stripped."""
    lines = []
    for block in re.findall(r"^```(?:sh|bash)\n(.*?)^```", text, re.S | re.M):
        lines += block.splitlines()
    lines += [line for line in re.sub(r"^```.*?^```", "", text, flags=re.S | re.M).splitlines()
              if line.startswith("    ")]
    return [line.strip() for line in lines]


def test_commands_file_is_well_formed():
    pairs = read()
    assert {name for name, _ in pairs} == set(NAMES)
    with open(PATH) as f:
        for line in f:
            assert line == line.rstrip() + "\n", f"trailing blanks: {line!r}"
    # Each command line is a line of its own: no continuation for .ci/run to split.
    assert not [c for _, c in pairs if c.endswith("\\")]


def test_test_command_creates_the_environment_then_runs_pytest():
    (install,), (test,) = commands("install"), commands("test")
    assert test.startswith(install + " && ")
    assert test.endswith(" -m pytest")


def test_readme_quick_start_gives_the_test_and_slow_commands():
    block = re.search(r"^```sh\n(.*?)^```", _section(_text("README.md"), "Quick start"),
                      re.S | re.M).group(1).splitlines()
    (test,), (slow,) = commands("test"), commands("slow")
    # The test command is the block's second line, which README.md says CI runs.
    assert block[1] == test
    assert block[2] == slow


def test_readme_development_gives_the_static_checks():
    lines = _code_lines(_section(_text("README.md"), "Development"))
    missing = [c for c in commands("static") if c not in lines]
    assert not missing, f"README.md's Development section does not quote {missing}"


def test_benchmarks_readme_gives_the_gate_commands():
    # Its "Performance gate" section, above "Wall-clock gate" (a gate CI does not run),
    # quotes the gate commands, and no other asv continuous command for <base> <head>.
    section = _section(_text("benchmarks", "README.md"), "Performance gate")
    quoted = [line for line in _code_lines(section)
              if line.startswith("asv continuous") and line.endswith("<base> <head>")]
    assert quoted == commands("gate")


def test_stub_check_covers_every_stub():
    # stubtest checks the modules .ci/stubtest.py gives it: every compiled module with a
    # stub, but a kernels build whose instructions this CPU lacks (importing it would be
    # an illegal instruction).
    assert commands("static").count("python .ci/stubtest.py") == 1
    spec = importlib.util.spec_from_file_location("stubtest", os.path.join(ROOT, ".ci",
                                                                          "stubtest.py"))
    stubtest = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(stubtest)
    stubs = {"suite." + f[:-len(".pyi")] for f in os.listdir(os.path.join(ROOT, "suite"))
             if f.endswith(".pyi")}
    assert set(stubtest.modules()) == stubs
    assert stubtest.runnable("suite._kernels") and stubtest.runnable("suite._pool")
    from suite import _runtime

    assert stubtest.runnable("suite._kernels_avx512") == _runtime._has_avx512()


def test_default_run_leaves_out_exactly_the_slow_tests():
    # pyproject.toml's addopts deselect the tests marked gate; "-m gate" selects them alone.
    files = ["tests/test_gate.py", "tests/test_history.py", "tests/test_pool.py"]

    def collected(*args):
        proc = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q",
                               "-n", "0", "-p", "no:cacheprovider", *args, *files],
                              cwd=ROOT, capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        return {line for line in proc.stdout.splitlines() if "::" in line}

    default, slow = collected(), collected("-m", "gate")
    everything = collected("-m", "")
    assert default and slow
    assert default | slow == everything and not default & slow
    assert any("test_gate_fails_each_regression" in t for t in slow)
    assert any("test_dashboard_renders_offline_in_chromium" in t for t in slow)
    assert any("test_kmax_work_grows_as_n_log_k" in t for t in slow)


# -- .ci/run on stand-in commands ---------------------------------------------------------

def _ci_clone(tmp_path, lines):
    """A git repository holding .ci/run and .ci/gate, with ``lines`` as .ci/commands, and a
    PATH whose valgrind, ccache, chromium and chromedriver are stand-ins (.ci/run installs
    nothing then)."""
    repo = tmp_path / "repo"
    (repo / ".ci").mkdir(parents=True)
    for name in ("run", "gate"):
        shutil.copy(os.path.join(ROOT, ".ci", name), repo / ".ci" / name)
    (repo / ".ci" / "commands").write_text("# stand-ins\n" + "".join(f"{line}\n" for line in lines))
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
    subprocess.run(["git", "-c", "user.name=ci test", "-c", "user.email=ci@test.invalid",
                    "commit", "-q", "--allow-empty", "-m", "first"], cwd=repo, check=True)
    tools = tmp_path / "bin"
    tools.mkdir()
    for tool in ("valgrind", "ccache", "chromium", "chromedriver"):
        (tools / tool).write_text("#!/bin/sh\nexit 0\n")
        (tools / tool).chmod(stat.S_IRWXU)
    env = dict(os.environ, PATH=f"{tools}{os.pathsep}{os.environ['PATH']}")
    return repo, env


def _ci_run(tmp_path, **parts):
    lines = [f"{name}: {parts.get(name, f'echo ran {name}')}" for name in NAMES]
    repo, env = _ci_clone(tmp_path, lines)
    proc = subprocess.run(["bash", ".ci/run"], cwd=repo, env=env, capture_output=True,
                          text=True, timeout=120)
    return proc.returncode, proc.stdout + proc.stderr


def test_ci_run_runs_every_part_in_order(tmp_path):
    status, output = _ci_run(tmp_path)
    assert status == 0, output
    ran = re.findall(r"^ran (\w+)$", output, re.M)
    # gate is .ci/gate's: it skips the stand-in repository's first commit.
    assert ran == ["install", "static", "test", "slow"], output
    assert "first commit" in output and "skipped" in output


@pytest.mark.parametrize("part", ["static", "test", "slow"])
def test_ci_run_fails_when_a_part_fails_and_runs_the_rest(tmp_path, part):
    status, output = _ci_run(tmp_path, **{part: "exit 3"})
    assert status != 0, output
    assert f"{part}: FAILED (exit status 3, " in output
    assert set(re.findall(r"^ran (\w+)$", output, re.M)) == {"install", "static", "test",
                                                             "slow"} - {part}


def test_ci_run_fails_when_pytest_collects_nothing(tmp_path):
    # pytest's exit status 5: a selection that holds no test.
    status, output = _ci_run(tmp_path, slow="echo pytest -m gate; exit 5")
    assert status != 0, output
    assert "collected no test" in output


def test_ci_run_stops_when_the_install_fails(tmp_path):
    status, output = _ci_run(tmp_path, install="exit 1")
    assert status != 0, output
    assert re.findall(r"^ran (\w+)$", output, re.M) == []


def test_ci_run_puts_the_test_environment_first_on_path_for_static(tmp_path):
    status, output = _ci_run(tmp_path, static='echo "path $PATH"')
    assert status == 0, output
    first = re.search(r"^path ([^:\n]*)", output, re.M).group(1)
    assert first == str(tmp_path / "repo" / ".venv-test" / "bin")
