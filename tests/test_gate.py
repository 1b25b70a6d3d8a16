"""The instruction-count gate: deterministic counts, and asv continuous catching a regression.

The asv cases build real commits made in a throw-away clone and run its ``.ci/gate``, with
the gate command(s) of .ci/commands (which benchmarks/README.md quotes under "Performance
gate"), then read the summary it wrote (``benchmarks/explain.py``).  The clone's asv
environments live in this checkout's ``.asv/env``: created once, shared by both cases, and
left for ``.ci/gate``, which then finds HEAD already built.  They are slow (minutes) and
marked ``gate``, which the default test run leaves out.  asv installs each commit it
benchmarks into that environment, so the two may not run at once (see tests/asv_clone.py):
they are one pytest-xdist group, ``ASV_ENV``, and run asv under its lock.
"""
import itertools
import os
import re
import shutil
import subprocess
import sys

import pytest

from asv_clone import ASV_ENV, BESIDE_ASV_ENV, ROOT, env_lock, git, make_clone
from benchmarks import counting, explain, instructions
from ci_commands import commands
needs_valgrind = pytest.mark.skipif(shutil.which("valgrind") is None,
                                    reason="valgrind is not installed")
gate = pytest.mark.gate
uses_asv_env = pytest.mark.xdist_group(ASV_ENV)


def _gate_commands(base, head):
    """The gate's commands, as ``.ci/gate`` runs them: .ci/commands' gate lines, for base
    and head."""
    lines = commands("gate")
    assert lines, ".ci/commands gives no gate command"
    return [line.replace("<base>", base).replace("<head>", head).split() for line in lines]


def _commit(repo, message):
    git(repo, "-c", "user.name=gate test", "-c", "user.email=gate@test.invalid",
         "commit", "-qam", message)
    return git(repo, "rev-parse", "HEAD")


def test_skip_reason_without_valgrind(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    reason = counting.unavailable()
    assert reason is not None and "valgrind is not installed" in reason
    for cls, params in [(instructions.Instructions, ("utterance", "loops", "float64")),
                        (instructions.PoolInstructions, ("utterance", "max", "float64")),
                        (instructions.ConvPoolInstructions, ("kim-mr", "tiles", "float32")),
                        (instructions.LayerInstructions, ("kim-mr", "selu-avg", "float32"))]:
        with pytest.raises(NotImplementedError, match="valgrind is not installed"):
            cls().setup({"skip": reason}, *params)


def test_cases_cover_the_registry():
    from suite.registry import ACTIVATIONS, CONV_POOL, DTYPES, FEATURE_MAP, POOL

    from benchmarks import _common
    key = counting.case_key
    workloads = ("utterance", "kim-mr", "image-3x3")
    keys = {key(*case) for case in counting.cases()}
    layers = {(a, m) for a in ACTIVATIONS for m in POOL}
    # Every activation and every method is counted on the fused variant, and the
    # frozen lists hold everything the build has.
    assert set(ACTIVATIONS) <= set(_common.ACTIVATIONS)
    assert {a for a, _ in counting.COUNTED_LAYERS} == set(ACTIVATIONS)
    assert {m for _, m in counting.COUNTED_LAYERS} == set(POOL)
    assert keys == (
        {key("feature_map", w, v, d) for w in workloads for v in FEATURE_MAP for d in DTYPES}
        | {key("pool", w, m, d) for w in workloads for m in POOL for d in DTYPES}
        | {key("conv_pool", w, v, d, "relu", "max")
           for w in workloads for v in CONV_POOL for d in DTYPES}
        | {key("conv_pool", "utterance", "tiles", d, a, m) for d in DTYPES
           for a, m in counting.COUNTED_LAYERS if (a, m) in layers}
        | {key("model", case, "logits", d) for case in counting.COUNTED_MODEL_CASES
           for d in DTYPES})


def test_the_selection_names_workloads_and_dtypes(monkeypatch):
    monkeypatch.setenv(counting.ONLY_ENV, "utterance,float32")
    assert counting.selection() == (["utterance"], ["float32"])
    assert {case[3] for case in counting.cases()} == {"float32"}
    assert {case[1] for case in counting.cases() if case[0] != "model"} == {"utterance"}
    monkeypatch.setenv(counting.ONLY_ENV, "float64")
    assert counting.selection() == (list(counting.COUNTED_WORKLOADS), ["float64"])
    monkeypatch.setenv(counting.ONLY_ENV, "utterance,float16")
    with pytest.raises(ValueError, match="SUITE_COUNT_ONLY: 'float16' is neither"):
        counting.cases()


def test_every_counted_case_has_a_benchmark():
    # Each counted case is reported by one benchmark (so a regression in it is named);
    # each benchmark the build can run has its case.
    keys = {counting.case_key(*case) for case in counting.cases()}
    reported = set()
    for cls in (instructions.Instructions, instructions.PoolInstructions,
                instructions.ConvPoolInstructions, instructions.LayerInstructions,
                instructions.ModelInstructions):
        for params in itertools.product(*cls.params):
            reported.add(cls().key(*params))
    assert keys <= reported


def test_part_instructions_splits_kernel_and_inclusive(tmp_path):
    package = tmp_path / "site" / "suite"
    part = tmp_path / "callgrind.out.1"
    # Two functions with self costs, one call line whose inclusive cost is not a self cost.
    part.write_text(
        "events: Ir\n"
        f"ob=(1) {package}/_pool.so\nfn=(1) max_row\n10 100\n"
        "cob=(2) /usr/lib/libpython3.so\ncfn=(2) PyObject_Call\ncalls=1 0\n11 5000\n"
        "ob=(2)\nfn=(2)\n20 40\n+1 2\n"
        "ob=(3) /usr/lib/x86_64-linux-gnu/libm.so.6\nfn=(3) expm1\n5 7\n")
    assert counting.part_instructions(str(part), str(package)) == {
        "kernel": 107, "inclusive": 149}


@gate
@needs_valgrind
@pytest.mark.xdist_group(BESIDE_ASV_ENV)
def test_counts_identical_run_to_run():
    # One dtype on the short workload, every kind of call: the heavy loop nests on kim-mr
    # add minutes under callgrind and nothing to what is being shown.
    cases = [case for case in counting.cases()
             if case[1] in ("utterance", "utterance-8") and case[3] == "float32"]
    first = counting.count(cases)
    second = counting.count(cases)
    print("first: ", first)
    print("second:", second)
    assert set(first) == {counting.case_key(*case) for case in cases}
    assert {kind for kind, *_ in cases} == {"feature_map", "pool", "conv_pool", "model"}
    assert all(value["kernel"] > 10_000 for value in first.values())
    assert all(value["inclusive"] > value["kernel"] for value in first.values())
    # Both counts agree within 1%, five times inside the gate's factor (docs/gate.md gives
    # the spreads measured, far smaller; a case that moves is named).
    for which, bound in (("kernel", 1.01), ("inclusive", 1.01)):
        spread = {k: max(first[k][which], second[k][which]) /
                  min(first[k][which], second[k][which]) for k in first}
        print(which, "spread:", max(spread.values()))
        assert max(spread.values()) < bound, {k: v for k, v in spread.items() if v != 1}


def _first_commit_clone(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    git(src, "init", "-q")
    (src / "a").write_text("a\n")
    git(src, "add", "a")
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
    git(tmp_path, "clone", "-q", "--depth", "1", f"file://{ROOT}", str(repo))
    proc = subprocess.run(["bash", ".ci/gate"], cwd=repo, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "shallow clone" in proc.stdout and "skipped" in proc.stdout


@pytest.fixture(scope="module")
def clone(tmp_path_factory):
    """A clone of this repository sharing this checkout's asv environments.

    Its gate commands count only the ``utterance`` workload in float32: every regression
    below shows there, and the counts take a quarter of the time.  ``.ci/gate`` counts
    everything.
    """
    repo, env = make_clone(tmp_path_factory.mktemp("gate"))
    env[counting.ONLY_ENV] = "utterance,float32"
    return repo, env, git(repo, "rev-parse", "HEAD")


def _gate(repo, env, base, head):
    """Run the clone's ``.ci/gate`` (HEAD^ against HEAD, which must be ``base`` and
    ``head``): its exit status, its output and the summary it wrote."""
    assert git(repo, "rev-parse", "HEAD^") == base and git(repo, "rev-parse", "HEAD") == head
    for command in _gate_commands(base, head):
        assert command[:2] == ["asv", "continuous"]
    env = dict(env, PATH=os.path.dirname(sys.executable) + os.pathsep + env["PATH"])
    env.pop("GITHUB_STEP_SUMMARY", None)
    summary = repo / explain.DEFAULT_SUMMARY
    if summary.exists():
        summary.unlink()
    with env_lock():
        proc = subprocess.run(["bash", ".ci/gate"], cwd=repo, env=env, capture_output=True,
                              text=True, timeout=2400, stdin=subprocess.DEVNULL)
    output = proc.stdout + proc.stderr
    assert summary.exists(), f"no summary in {summary}:\n{output}"
    return proc.returncode, output, summary.read_text()


def _report(repo, base, head, factor=1.05):
    """The gate's comparison of the two commits, from the records its counts wrote."""
    records = repo / explain.DEFAULT_RECORDS
    return explain.Report(explain.load_record(records, base),
                          explain.load_record(records, head), factor, status=None)


def _ratio(cell):
    """asv's ratio cell as a number ("~1.02" is not significant; "n/a" counts as worse)."""
    try:
        return float(cell.strip().lstrip("~"))
    except ValueError:
        return float("inf")


def _worse(output, above=1.0):
    """The benchmarks asv's table marks worse (``+``) by more than ``above``."""
    # asv's table rows: | Change | Before | After | Ratio | Benchmark (Parameter) |
    return [line.split("|")[5].strip() for line in output.splitlines()
            if line.startswith("|") and line.split("|")[1].strip() == "+"
            and _ratio(line.split("|")[4]) > above]


# -- the regressions: each a small patch that finds its spot, or says what to update ------

def _patch(path, pattern, replace, what):
    """Apply ``re.sub(pattern, replace, ...)`` to ``path``; it must match at least once."""
    source = path.read_text()
    patched, n = re.subn(pattern, replace, source, flags=re.S | re.M)
    assert n, f"{path.name}: {what}"
    path.write_text(patched)


def _extra_pass_in_loops_kernel(repo):
    """The loop kernel computes the first tenth of the channels a second time (+10% of
    its work, same output).  The second call is made from ``suite.feature_map``: a change
    inside the compiled module would also change how the compiler inlines the loop
    kernel, whose instruction count then moves for reasons of its own."""
    again = ("if variant == \"loops\" and channels >= 10:\n"
             "            tenth = slice(0, channels // 10)\n"
             "            FEATURE_MAP[variant].run(x3, np.ascontiguousarray(weights[tenth]), "
             "bias[tenth].copy(), np.empty_like(out[:, tenth]), threads)\n")
    _patch(repo / "suite" / "_api.py",
           r"(\n( +)FEATURE_MAP\[variant\]\.run\(x3, weights, bias, out, threads\)\n)",
           r"\1\2" + again.replace("\\", "\\\\"),
           "feature_map no longer calls FEATURE_MAP[variant].run(x3, weights, bias, out, "
           "threads): update this patch")


def _extra_pass_in_max_pooling(repo):
    """Max pooling scans every row a second time first (a plain running max, which
    returns a NaN only when the row starts with one: the result max pooling gives then).

    Inserted at the top of ``max_row``, the function of pyx/suite/_pool.pyx that takes the
    max of a row (``cdef floating max_row(const floating* v, Py_ssize_t n) ...:``), with
    whatever names its two arguments have: the rest of the module may change around it."""
    def scan(match):
        indent, v, n = "    ", match.group(2), match.group(3)
        return (match.group(1)
                + f"{indent}cdef Py_ssize_t again_i\n"
                + f"{indent}cdef floating again = {v}[0]\n"
                + f"{indent}for again_i in range(1, {n}):\n"
                + f"{indent}    again = {v}[again_i] if {v}[again_i] > again else again\n"
                + f"{indent}if again != again:\n"
                + f"{indent}    return again\n")

    path = repo / "pyx" / "suite" / "_pool.pyx"
    source, n = re.subn(r"^(cdef floating max_row\(const floating\* (\w+), Py_ssize_t (\w+)\)"
                        r"[^\n]*:\n)", scan, path.read_text(), flags=re.M)
    assert n == 1, ("_pool.pyx has no `cdef floating max_row(const floating* v, Py_ssize_t n)"
                    " ...:`: update this patch")
    path.write_text(source)


def _no_reassociation_in_avx2_kernels(repo):
    """The AVX2 kernels (the build callgrind runs) are compiled without the reassociation
    flags: the tiles' sums stay in order, so the compiler cannot vectorise them."""
    _patch(repo / "setup.py", r'("_kernels_avx2":\s*)REDUCTION_FLAGS\s*\+\s*', r"\1",
           'setup.py\'s MODULE_FLAGS no longer gives "_kernels_avx2": REDUCTION_FLAGS + ...: '
           "update this patch")


def _extra_pass_in_fused_max(repo):
    """The fused path activates every value of a map before max pooling it (a pass over
    the tile), instead of activating the max alone: same result, n activations, not 1."""
    _patch(repo / "pyx" / "suite" / "_conv_pool.pyx",
           r"^( +)dst\[0\] = activate\(max_row\(v, n\), activation\)\n",
           r"\1for i in range(n):\n\1    v[i] = activate(v[i], activation)\n"
           r"\1dst[0] = max_row(v, n)\n",
           "activate_pool_row no longer has dst[0] = activate(max_row(v, n), activation) "
           "for max pooling: update this patch")


def _extra_pass_in_tiles_core(repo):
    """The Cython tiles core computes the first tenth of its channels a second time first
    (+10%): a call of itself on ``channels // 10`` channels, same outputs.  Patched in the
    template setup.py renders to _tiles.pxi."""
    _patch(repo / "pyx" / "suite" / "_tiles.pxi.tp",
           r"(cdef void tiles\(.*?\n( +)cdef floating acc\[12\]\n)",
           r"\1\2if channels >= 10:\n\2    tiles(w, channels // 10, h, wd, x, d, m, p, bias, "
           r"out, ldo)\n",
           "no `cdef void tiles(...)` with `cdef floating acc[12]` in _tiles.pxi.tp: the "
           "tiles core moved, update this patch")


def _extra_pass_in_feature_map_python_layer(repo):
    """``suite.feature_map`` checks that its inputs are finite: NumPy passes over x,
    weights and bias before the kernel runs."""
    check = ("if not (np.isfinite(x3).all() and np.isfinite(weights).all()\n"
             "            and np.isfinite(bias).all()):\n"
             '        raise ValueError("x, weights and bias must be finite")\n')
    _patch(repo / "suite" / "_api.py",
           r"(def feature_map\(.*?\n( +)x3, weights, bias, batched = _conv_inputs\([^\n]*\n)",
           r"\1\2" + check,
           "feature_map no longer calls _conv_inputs: update this patch")


@gate
@needs_valgrind
@uses_asv_env
def test_gate_passes_a_commit_that_changes_no_kernel(clone):
    repo, env, base = clone
    conv = repo / "pyx" / "suite" / "_conv.pyx"
    conv.write_text("# Kernels are counted by benchmarks/instructions.py.\n" + conv.read_text())
    head = _commit(repo, "comment only")
    status, output, summary = _gate(repo, env, base, head)
    assert status == 0, output
    assert "BENCHMARKS NOT SIGNIFICANTLY CHANGED" in output, output
    # One line: the verdict and the largest change, and no section.
    print(summary)
    assert summary.count("\n") == 1 and "passed" in summary, summary
    assert "largest change is" in summary and "###" not in summary, summary
    assert "gate: passed" in output, output


@gate
@needs_valgrind
@uses_asv_env
def test_gate_fails_each_regression(clone):
    # Five regressions in one commit (one build, one count); each must be named by a row
    # that only it makes worse.
    repo, env, _ = clone
    base = git(repo, "rev-parse", "HEAD")
    _extra_pass_in_loops_kernel(repo)
    _extra_pass_in_max_pooling(repo)
    _extra_pass_in_fused_max(repo)
    _extra_pass_in_tiles_core(repo)
    _extra_pass_in_feature_map_python_layer(repo)
    head = _commit(repo, "extra passes: loops, max pooling, fused max, tiles core, "
                         "feature_map's input check")
    status, output, summary = _gate(repo, env, base, head)
    print(output)
    print(summary)
    assert status == 1, output
    assert "PERFORMANCE DECREASED" in output, output
    worse = _worse(output)

    def named(prefix, *params):
        return [row for row in worse if row.startswith(f"instructions.{prefix}(")
                and all(f"'{p}'" in row for p in params)]

    fmap, fmap_all = "Instructions.track_instructions", "Instructions.track_inclusive_instructions"
    expected = {
        "loops kernel": named(fmap, "loops"),
        "max pooling kernel": named("PoolInstructions.track_instructions", "max"),
        # The fused layers run on the tiles core too, whose own regression adds 10-13%:
        # the fused path's must show above that.
        "fused activate-and-pool": [row for row in _worse(output, above=1.2)
                                    if row.startswith("instructions.LayerInstructions."
                                                      "track_instructions(")],
        "tiles core": named(fmap, "tiles"),
        "feature_map's Python layer": named(fmap_all, "utterance", "blas"),
    }
    missing = [name for name, rows in expected.items() if not rows]
    assert not missing, f"no row names the regression in {missing}:\n{output}"
    # What none of them touches stays put: the GEMM kernel's own count, average pooling.
    assert not named(fmap, "blas"), output
    assert not named("PoolInstructions.track_instructions", "avg"), output

    # The summary: the verdict, and for max pooling the function with most of the delta.
    assert summary.startswith("## Instruction gate: FAILED"), summary
    assert "### Where: the functions whose own counts changed most" in summary, summary
    report = _report(repo, base, head)
    pooling = [deltas for row, deltas in report.where
               if row["case"].startswith("pool/utterance/max/") and row["which"] == "kernel"]
    assert pooling, summary
    for deltas in pooling:
        top = deltas[0]
        assert top["object"] == "_pool" and top["share"] > 0.5, deltas
        assert f"| `{explain.function_name(top['function'])}` | _pool |" in summary, summary
    assert "pool max" in summary and "feature_map tiles" in summary, summary


@gate
@needs_valgrind
@uses_asv_env
def test_gate_names_lost_vectorisation(clone):
    # After the regressions' commit (its build is the base): the tiles' sums compiled in
    # order.  The tiles then run scalar arithmetic, several times the instructions.
    repo, env, _ = clone
    base = git(repo, "rev-parse", "HEAD")
    _no_reassociation_in_avx2_kernels(repo)
    head = _commit(repo, "the AVX2 kernels without the reassociation flags")
    status, output, summary = _gate(repo, env, base, head)
    print(output)
    print(summary)
    assert status == 1, output
    report = _report(repo, base, head)
    fell = {explain.function_name(m["function"]): m for m in report.warnings}
    assert "_kernels_avx2.tiles[0]" in fell, report.mix
    tiles = fell["_kernels_avx2.tiles[0]"]
    assert tiles["dtypes"] == ["float32"]
    assert tiles["packed"][0] > 0.9 and tiles["packed"][1] < 0.5, tiles
    # Named where it counts, and as lost vectorisation, in the summary and the log.
    tiles_case = [deltas for row, deltas in report.where
                  if row["case"] == "feature_map/utterance/tiles/float32"]
    assert tiles_case and tiles_case[0][0]["function"].endswith("_kernels_avx2_tiles"), \
        tiles_case
    assert "### Warnings: lost vectorisation" in summary, summary
    assert re.search(r"`_kernels_avx2\.tiles\[0\]` float32: 9\d% packed -> [1-4]?\d%",
                     summary), summary
    assert "| `_kernels_avx2.tiles[0]` | _kernels_avx2 |" in summary, summary
    assert "WARNING lost vectorisation: _kernels_avx2.tiles[0] float32" in output, output
