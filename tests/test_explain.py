"""The gate's explanation: callgrind profile parsing, instruction classification, the summary.

The profiles are real: a small C program with one floating-point reduction, compiled with
and without the reassociation flags (so vectorised or not), counted by callgrind with
``--dump-instr=yes`` as the gate counts (a second or two each, no Python under valgrind).
"""
import json
import os
import re
import shutil
import subprocess
import sys

import pytest

from benchmarks import counting, explain, mix

needs_tools = pytest.mark.skipif(
    shutil.which("valgrind") is None or shutil.which("gcc") is None
    or shutil.which("objdump") is None, reason="needs valgrind, gcc and objdump")

PROGRAM = r"""
#include <stdio.h>
#include <stdlib.h>

__attribute__((noinline)) float dot(const float *a, const float *b, int n)
{
    float s = 0;
    for (int i = 0; i < n; i++)
        s += a[i] * b[i];
    return s;
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 4096;
    int rounds = argc > 2 ? atoi(argv[2]) : 20;
    float *a = malloc(n * sizeof *a), *b = malloc(n * sizeof *b), s = 0;
    for (int i = 0; i < n; i++) {
        a[i] = i * 0.5f;
        b[i] = 1.0f / (i + 1);
    }
    for (int r = 0; r < rounds; r++)
        s += dot(a, b, n);
    printf("%f\n", s);
    return 0;
}
"""
REASSOCIATION = ["-fno-math-errno", "-fno-trapping-math", "-fassociative-math",
                 "-fno-signed-zeros"]


def _profile(directory, flags, *args):
    """Compile PROGRAM into ``directory`` with ``flags``, count it; its ``read_part``."""
    directory.mkdir()
    (directory / "prog.c").write_text(PROGRAM)
    subprocess.run(["gcc", "-g", "-O3", "-mavx2", "-mfma", *flags, "-o", "prog", "prog.c"],
                   cwd=directory, check=True)
    subprocess.run(["valgrind", "--tool=callgrind", "--dump-instr=yes",
                    "--callgrind-out-file=callgrind.out", "./prog", *args], cwd=directory,
                   check=True, capture_output=True)
    return counting.read_part(str(directory / "callgrind.out"), str(directory), detail=True)


@pytest.fixture(scope="module")
def profiles(tmp_path_factory):
    """The profile of the vectorised build (base) and of the scalar one (head)."""
    if shutil.which("valgrind") is None or shutil.which("gcc") is None:
        pytest.skip("needs valgrind and gcc")
    tmp = tmp_path_factory.mktemp("explain")
    return _profile(tmp / "base", REASSOCIATION), _profile(tmp / "head", [])


def _record(commit, part, key="feature_map/utterance/tiles/float32"):
    return {"commit": commit, "cases": {key: part}}


@pytest.mark.parametrize("instruction, expected", [
    ("vfmadd231ps %ymm3,%ymm12,%ymm11", ("packed256", 16)),
    ("vfmadd231pd %ymm3,%ymm12,%ymm11", ("packed256", 8)),
    ("vfmadd231ss %xmm3,%xmm12,%xmm11", ("scalar", 2)),
    ("vaddps %zmm1,%zmm2,%zmm3", ("packed512", 16)),
    ("addps %xmm1,%xmm2", ("packed128", 4)),
    ("vmulsd 0x8(%rax),%xmm1,%xmm1", ("scalar", 1)),
    ("vmaxps %ymm0,%ymm1,%ymm1", ("packed256", 8)),
    ("vmovups (%rdi),%ymm0", ("packed256", 0)),
    ("vmovss (%rdi),%xmm0", ("scalar", 0)),
    ("vbroadcastss (%rax),%ymm1", ("packed256", 0)),
    ("vpermps %ymm1,%ymm2,%ymm3", ("packed256", 0)),
    ("vpaddd %ymm0,%ymm1,%ymm1", (None, 0)),
    ("vpabsd %ymm0,%ymm1", (None, 0)),
    ("add %rax,%rbx", (None, 0)),
    ("movsd %ds:(%rsi),%es:(%rdi)", (None, 0)),
])
def test_classify(instruction, expected):
    mnemonic, operands = instruction.split(" ", 1)
    assert mix.classify(mnemonic, operands) == expected


@pytest.mark.parametrize("name, readable", [
    ("__pyx_fuse_0__pyx_f_5suite_13_kernels_avx2_tiles", "_kernels_avx2.tiles[0]"),
    ("__pyx_fuse_1__pyx_f_5suite_5_pool_max_row", "_pool.max_row[1]"),
    ("__pyx_f_5suite_13_kernels_avx2_direct_f32", "_kernels_avx2.direct_f32"),
    ("__pyx_pf_5suite_10_conv_pool_2conv_pool._omp_fn.0", "_conv_pool.conv_pool._omp_fn.0"),
    ("__pyx_fuse_0__pyx_pw_5suite_5_conv_3feature_map", "_conv.feature_map[0]"),
    ("PyObject_Call", "PyObject_Call"),
])
def test_demangle(name, readable):
    assert mix.demangle(name) == readable


def test_shares_of_a_mix():
    m = dict(mix.empty(), packed256=90, scalar=10, flops=800, instructions=200)
    assert mix.floating_point(m) == 100
    assert mix.packed_share(m) == 0.9
    assert mix.flops_per_instruction(m) == 4.0
    assert mix.packed_share(mix.empty()) is None


def test_read_part_with_instruction_positions(tmp_path):
    # --dump-instr=yes: two position columns, relative compression, a call's cost line.
    package = tmp_path / "suite"
    part = tmp_path / "callgrind.out.1"
    part.write_text(
        "positions: instr line\nevents: Ir\n"
        f"ob=(1) {package}/_pool.so\nfl=(1) /build/pyx/suite/_pool.c\nfn=(1) max_row\n"
        "0x10 20 100\n+4 * 50\n+2 +1 7\n"
        "cob=(2) /usr/lib/libpython3.so\ncfn=(2) PyObject_Call\ncalls=1 0x50 3\n+3 -1 5000\n"
        "+1 * 3\n"
        "ob=(2)\nfl=(2) ???\nfn=(2)\n0x90 0 40\n"
        # A recursive call of max_row, which callgrind names max_row'2.
        "ob=(1)\nfl=(1)\nfn=(3) max_row'2\n0x10 20 5\n")
    out = counting.read_part(str(part), str(package), detail=True, disassembly=lambda _: {})
    assert (out["kernel"], out["inclusive"]) == (165, 205)
    assert counting.part_instructions(str(part), str(package)) == {"kernel": 165,
                                                                   "inclusive": 205}
    assert out["functions"] == {"_pool.so:max_row": [True, 165],
                                "libpython3.so:PyObject_Call": [False, 40]}
    # 0x10 line 20, 0x14 line 20, 0x16 line 21; the call at 0x19 line 20; 0x1a line 20.
    assert out["lines"] == {"_pool.so:max_row": {"pyx/suite/_pool.c:20": 158,
                                                 "pyx/suite/_pool.c:21": 7}}
    assert out["mix"] == {}  # nothing in the (empty) disassembly is floating-point


@needs_tools
def test_mix_of_a_vectorised_and_a_scalar_reduction(profiles):
    base, head = profiles
    vector, scalar = base["mix"]["prog:dot"], head["mix"]["prog:dot"]
    assert mix.packed_share(vector) > 0.9, vector
    # Left in order, the sums are scalar (gcc may still multiply in vectors).
    assert mix.packed_share(scalar) < 0.2, scalar
    # The same multiply-adds, in 8 lanes instead of 1: more operations per instruction.
    assert mix.flops_per_instruction(vector) > 2 * mix.flops_per_instruction(scalar)
    assert head["functions"]["prog:dot"][1] > 2 * base["functions"]["prog:dot"][1]
    assert any(where.startswith("prog.c:") for where in head["lines"]["prog:dot"])


@needs_tools
def test_report_names_the_function_and_its_lost_vectorisation(profiles):
    base, head = profiles
    report = explain.Report(_record("a" * 40, base), _record("b" * 40, head), 1.05,
                            status=1, names={})
    assert not report.passed
    assert report.worse and report.worse[0]["case"] == "feature_map/utterance/tiles/float32"
    _, deltas = report.where[0]
    assert deltas[0]["function"] == "prog:dot" and deltas[0]["share"] > 0.5
    assert deltas[0]["lines"] and deltas[0]["lines"][0][0].startswith("prog.c:")
    (warning,) = report.warnings
    assert warning["function"] == "prog:dot" and warning["dtypes"] == ["float32"]
    text = report.markdown()
    assert text.startswith("## Instruction gate: FAILED")
    for section in ("### Warnings: lost vectorisation", "### Worse (2 counts), by kernel family",
                    "| feature_map tiles | 2 |", "### Where:", "| `dot` | prog |",
                    "### Why:", "**(fell)**"):
        assert section in text, text
    console = report.console()
    assert all(line.startswith("gate: ") for line in console.splitlines())
    assert "WARNING lost vectorisation: dot float32: " in console
    assert re.search(r"dot float32: 100% packed -> 1?\d%,", console), console


@needs_tools
def test_a_warning_when_the_count_stays_inside_the_factor(profiles):
    # The scalar build's count, scaled to within the factor of the base's: the packed
    # share's fall alone is reported, and the gate passes.
    base, head = profiles
    head = dict(head, kernel=base["kernel"], inclusive=base["inclusive"])
    report = explain.Report(_record("a" * 40, base), _record("b" * 40, head), 1.05,
                            status=0, names={})
    assert report.passed and not report.worse and report.warnings
    text = report.markdown()
    assert text.startswith("## Instruction gate: passed")
    assert "1 kernel function(s) lost packed arithmetic" in text
    assert "### Where" not in text


def _records(kernel=(1000, 1000), inclusive=(5000, 5000)):
    def case(k, i):
        return {"kernel": k, "inclusive": i, "functions": {}, "lines": {}, "mix": {}}
    keys = ["pool/utterance/max/float32", "pool/utterance/max/float64",
            "feature_map/utterance/tiles/float32"]
    return ({"commit": "1" * 40, "cases": {k: case(kernel[0], inclusive[0]) for k in keys}},
            {"commit": "2" * 40, "cases": {k: case(kernel[1], inclusive[1]) for k in keys}})


def test_a_passing_run_is_one_line_with_the_largest_change():
    base, head = _records(kernel=(1000, 1001), inclusive=(5000, 4990))
    report = explain.Report(base, head, 1.05, status=0)
    text = report.markdown()
    assert text.count("\n") == 1 and text.endswith("\n")
    assert "passed" in text and "largest change is 0.9980x" in text
    assert "instructions.Instructions.track_inclusive_instructions('utterance', 'tiles', " \
           "'float32'): 5,000 -> 4,990" in text


def test_worse_and_better_by_family():
    base, head = _records(kernel=(1000, 1200), inclusive=(5000, 4000))
    base["cases"]["feature_map/utterance/tiles/float32"]["kernel"] = 1200
    report = explain.Report(base, head, 1.05, status=1)
    families = [fam for fam, _ in explain.group(report.worse)]
    assert families == ["pool max"]
    assert [fam for fam, _ in explain.group(report.better)] == ["feature_map tiles", "pool max"]
    text = report.markdown()
    assert "| pool max | 2 | 1.200 | utterance float32 kernel: 1.200, utterance float64 " \
           "kernel: 1.200 |" in text, text
    assert "`instructions.PoolInstructions.track_instructions('utterance', 'max', " \
           "'float32')`" in text


def test_family():
    assert explain.family("conv_pool/kim-mr/tiles/float64/selu-x/avg".replace("-x", "")) \
        == "conv_pool tiles selu-avg"
    assert explain.family("model/utterance-8/logits/float32") == "model logits"


def test_benchmark_names_keep_asv_names():
    names = explain.benchmark_names()
    key = counting.case_key("feature_map", "utterance", "tiles", "float32")
    assert names[key]["kernel"] == [
        "instructions.Instructions.track_instructions('utterance', 'tiles', 'float32')"]
    fused = counting.case_key("conv_pool", "utterance", "tiles", "float32", "relu", "max")
    assert len(names[fused]["inclusive"]) == 2  # ConvPoolInstructions and LayerInstructions


def test_summary_goes_to_the_step_summary_when_set(tmp_path, monkeypatch):
    step = tmp_path / "step.md"
    step.write_text("earlier step\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(step))
    assert explain.write_summary("gate line") == str(step)
    assert step.read_text() == "earlier step\ngate line\n"
    monkeypatch.delenv("GITHUB_STEP_SUMMARY")
    assert explain.summary_path() == (explain.DEFAULT_SUMMARY, False)


def _run(*args, cwd):
    return subprocess.run([sys.executable, os.path.join(counting.__file__[:-len("counting.py")],
                                                        "explain.py"), *args],
                          cwd=cwd, capture_output=True, text=True)


def test_script_writes_the_summary(tmp_path):
    base, head = _records(kernel=(1000, 1500))
    records = tmp_path / "records"
    records.mkdir()
    for record in (base, head):
        (records / f"{record['commit']}.json").write_text(json.dumps(record))
    summary = tmp_path / "summary.md"
    proc = _run("--factor", "1.05", "--status", "1", "--records", str(records),
                "--summary", str(summary), base["commit"], head["commit"], cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "gate: FAILED: 3 count(s) more than 1.05x the base's" in proc.stdout
    assert summary.read_text().startswith("## Instruction gate: FAILED")


def test_script_without_a_record_says_which(tmp_path):
    proc = _run("--factor", "1.05", "--records", str(tmp_path), "--summary",
                str(tmp_path / "s.md"), "1" * 40, "2" * 40, cwd=tmp_path)
    assert proc.returncode == 1
    assert "no record of commit 11111111" in proc.stderr
    assert "no explanation" in (tmp_path / "s.md").read_text()


@pytest.mark.parametrize("factor", ["0.5", "x"])
def test_script_rejects_a_bad_factor(tmp_path, factor):
    proc = _run("--factor", factor, "a", "b", cwd=tmp_path)
    assert proc.returncode == 2
    assert "--factor must be a number >= 1" in proc.stderr


def test_mix_option_rejects_an_unknown_workload():
    with pytest.raises(ValueError, match="unknown workload 'nope'"):
        counting.mix_cases(["utterance", "nope"])
    proc = subprocess.run([sys.executable, counting.__file__, "--mix", "nope"],
                          capture_output=True, text=True)
    assert proc.returncode == 1 and "counting.py --mix: unknown workload 'nope'" in proc.stderr
