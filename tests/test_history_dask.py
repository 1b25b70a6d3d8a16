"""``python -m suite history run`` on a real Dask ``LocalCluster``, against serial asv.

The commits are HEAD of a throw-away clone and a commit after it that does not build,
counted with ``SUITE_COUNT_ONLY`` (the ``utterance`` workload and the classifier, in
float32) to keep the builds and counts short.  The workers' slots (their asv
environments) are in a scratch directory of the test's own.  One worker is killed while
it counts; the run must still end with one result file per commit, the broken one
recorded as failed, and HEAD's counts must equal those of a serial ``asv run`` in the
same environment.  One run on the cluster serves every test.  They build and count,
take minutes, and are marked ``gate``.
"""
import contextlib
import glob
import json
import math
import os
import shutil
import subprocess
import sys
import threading
import time

import pytest

from asv_clone import BESIDE_ASV_ENV, HISTORY_ENV_DIR, git, make_clone

dask = pytest.importorskip("dask", reason="the history extra (dask) is not installed")
distributed = pytest.importorskip("distributed", reason="the history extra is not installed")
psutil = pytest.importorskip("psutil")

from suite.history import _results, _run, _worker  # noqa: E402

pytestmark = [pytest.mark.gate, pytest.mark.xdist_group(BESIDE_ASV_ENV),
              pytest.mark.skipif(shutil.which("valgrind") is None,
                                 reason="valgrind is not installed")]
ENV = {"SUITE_COUNT_ONLY": "utterance,float32"}


@pytest.fixture(scope="module")
def scratch(tmp_path_factory):
    """The workers' scratch directory, for every cluster of this module."""
    path = str(tmp_path_factory.mktemp("slots"))
    old = os.environ.get(_worker.SCRATCH_ENV)
    os.environ[_worker.SCRATCH_ENV] = path
    yield path
    if old is None:
        del os.environ[_worker.SCRATCH_ENV]
    else:
        os.environ[_worker.SCRATCH_ENV] = old


@pytest.fixture(scope="module")
def clone(tmp_path_factory):
    """HEAD, and on a branch after it a commit whose Cython does not compile."""
    repo, env = make_clone(tmp_path_factory.mktemp("history-dask"), HISTORY_ENV_DIR)
    head = git(repo, "rev-parse", "HEAD")
    git(repo, "checkout", "-q", "-b", "broken")
    with open(repo / "pyx" / "suite" / "_pool.pyx", "a") as f:
        f.write("\nthis is not Cython\n")
    git(repo, "-c", "user.name=t", "-c", "user.email=t@t.invalid", "commit", "-qam", "broken")
    broken = git(repo, "rev-parse", "HEAD")
    git(repo, "checkout", "-q", "main")
    hashes = repo / "hashes.txt"
    hashes.write_text(f"{head}\n{broken}\n")
    return {"repo": repo, "env": env, "head": head, "broken": broken,
            "hashfile": f"HASHFILE:{hashes}"}


def _descendants_counting(pid):
    """Whether a process under ``pid`` is callgrind counting."""
    try:
        children = psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return False
    for child in children:
        try:
            if any("--tool=callgrind" in part for part in child.cmdline()):
                return True
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return False


def _kill_tree(pid):
    process = psutil.Process(pid)
    for p in [process, *process.children(recursive=True)]:
        with contextlib.suppress(psutil.NoSuchProcess):
            p.kill()


@pytest.fixture(scope="module")
def distributed_run(clone, scratch):
    """A run over both commits on 2 workers, the one counting HEAD killed while it counts."""
    from dask.distributed import Client, LocalCluster

    results = str(clone["repo"] / "results-dask")
    lines = []
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster, Client(cluster) as client:
        pids = client.run(os.getpid)
        outcome = {}

        def run():
            try:
                outcome["summary"] = _run.run(
                    [clone["hashfile"]], scheduler=cluster.scheduler_address,
                    config=str(clone["repo"] / "asv.conf.json"), results_dir=results,
                    env=ENV, progress=False, log=lines.append)
            except BaseException as error:  # reported by the test
                outcome["error"] = error

        thread = threading.Thread(target=run)
        thread.start()
        killed = None
        while thread.is_alive():
            if killed is None:
                for address, pid in pids.items():
                    if _descendants_counting(pid):
                        _kill_tree(pid)
                        killed = address
                        break
            time.sleep(0.5)
        thread.join()
    if "error" in outcome:
        raise outcome["error"]
    return {"summary": outcome["summary"], "killed": killed, "results": results,
            "log": lines}


def _result_files(results, machine):
    return {os.path.basename(p)[:8]: _results.load_json(p)
            for p in glob.glob(os.path.join(results, machine, "*-*.json"))}


@pytest.fixture(scope="module")
def serial_run(clone, distributed_run, scratch):
    """A serial ``asv run`` of HEAD, in one of the runner's environments."""
    repo, summary = clone["repo"], distributed_run["summary"]
    config = json.loads((repo / "asv.conf.json").read_text())
    results = str(repo / "results-serial")
    with _worker.slot() as slot:
        config.update(env_dir=os.path.join(slot, "env"), results_dir=results)
        path = repo / "asv-serial.conf.json"
        path.write_text(json.dumps(config))
        home = repo / "serial-home"
        home.mkdir()
        (home / ".asv-machine.json").write_text(json.dumps(
            {"version": 1, "serial": {"machine": "serial"}}))
        env = dict(clone["env"], HOME=str(home), **ENV)
        proc = subprocess.run(
            [sys.executable, "-m", "asv", "run", "--config", str(path), "--machine", "serial",
             "--bench", _run.DEFAULT_BENCH, f"{clone['head']}^!"], cwd=repo, env=env,
            capture_output=True, text=True, timeout=1500)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return _result_files(results, "serial"), summary


def test_every_commit_ends_with_one_result_file(distributed_run, clone):
    summary = distributed_run["summary"]
    assert distributed_run["killed"] is not None, "no worker was seen counting"
    assert summary.counted == [clone["head"]], summary.format()
    assert not summary.lost
    files = glob.glob(os.path.join(distributed_run["results"], summary.machine, "*-*.json"))
    assert sorted(os.path.basename(f)[:8] for f in files) == sorted(
        c[:8] for c in (clone["head"], clone["broken"]))


def test_a_commit_that_fails_to_build_is_recorded_and_the_others_run(distributed_run, clone):
    summary, broken = distributed_run["summary"], clone["broken"]
    assert summary.failed == [broken], summary.format()
    result = _result_files(distributed_run["results"], summary.machine)[broken[:8]]
    assert result["results"] == {} or all(
        v is None for b in result["results"] for v in _results.values(result, b))


def test_counts_equal_a_serial_asv_run(serial_run, clone):
    serial, summary = serial_run
    head = clone["head"][:8]
    result = _result_files(summary.results_dir, summary.machine)[head]
    assert set(serial) == {head}
    compared = 0
    for benchmark in result["results"]:
        mine = _results.values(result, benchmark)
        theirs = _results.values(serial[head], benchmark)
        assert len(mine) == len(theirs)
        for a, b in zip(mine, theirs):
            if isinstance(a, float) and math.isnan(a):
                assert math.isnan(b)
                continue
            compared += 1
            # Within the slack merge allows: the inclusive counts', and the kernel's
            # (exact but for the paths through OpenBLAS).
            assert _results.same_counts(benchmark, a, b), (head, benchmark, a, b)
    assert compared > 50


def test_a_second_run_skips_what_is_counted(distributed_run, clone):
    summary = _run.run([clone["hashfile"]], workers=1,
                       config=str(clone["repo"] / "asv.conf.json"),
                       results_dir=distributed_run["results"], env=ENV, progress=False,
                       log=lambda line: None)
    assert sorted(summary.skipped) == sorted([clone["head"], clone["broken"]])
    assert not summary.counted


def test_merge_of_two_shards_equals_the_run_over_both(distributed_run, clone, tmp_path):
    results, machine = distributed_run["results"], distributed_run["summary"].machine
    shards = {}
    for name in sorted(_results.result_files(results, machine)):
        shard = tmp_path / f"shard-{name[:8]}"
        os.makedirs(shard / machine)
        shutil.copy(os.path.join(results, "benchmarks.json"), shard)
        shutil.copy(os.path.join(results, machine, "machine.json"), shard / machine)
        shutil.copy(os.path.join(results, machine, name), shard / machine)
        shards[name[:8]] = str(shard)
    _results.merge(list(shards.values()), str(tmp_path / "merged"), log=lambda line: None)
    assert _result_files(str(tmp_path / "merged"), machine) == _result_files(results, machine)
    # One count 1% off in HEAD's shard: refused, naming the commit and the case.
    (path,) = glob.glob(os.path.join(shards[clone["head"][:8]], machine, "*-*.json"))
    data = _results.load_json(path)
    name = "instructions.Instructions.track_instructions"
    row = data["results"][name]
    index = next(i for i, v in enumerate(row[0]) if isinstance(v, (int, float)) and v == v)
    row[0][index] = int(row[0][index] * 1.01) + 1   # beyond KERNEL_TOLERANCE
    _results.write_json(path, data)
    with pytest.raises(_results.ResultsError, match=f"commit {data['commit_hash'][:8]}.*"
                                                     f"{name}"):
        _results.merge([results, shards[clone["head"][:8]]], str(tmp_path / "refused"),
                       log=lambda line: None)


def test_a_worker_with_another_toolchain_is_refused(clone, scratch, distributed_run):
    """A worker whose builds get other compiler flags: refused, the difference named."""
    from dask.distributed import LocalCluster

    lines = []
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True,
                      dashboard_address=None, env={"CFLAGS": "-O1"}) as cluster, \
            pytest.raises(_run.HistoryError, match="no worker has this host's toolchain"):
        _run.run(["HEAD"], scheduler=cluster.scheduler_address,
                 config=str(clone["repo"] / "asv.conf.json"),
                 results_dir=str(clone["repo"] / "results-refused"), env=ENV,
                 progress=False, log=lines.append)
    refusals = [line for line in lines if line.startswith("refused worker")]
    assert len(refusals) == 1
    assert "build_flags: 'CFLAGS=-O1' (expected 'none')" in refusals[0]


def test_asv_publishes_what_the_run_wrote(distributed_run, clone, tmp_path):
    """The site shows the counts under the toolchain's machine, with its facts."""
    summary = distributed_run["summary"]
    config = json.loads((clone["repo"] / "asv.conf.json").read_text())
    config.update(results_dir=distributed_run["results"], html_dir=str(tmp_path / "html"))
    path = clone["repo"] / "asv-publish.conf.json"
    path.write_text(json.dumps(config))
    proc = subprocess.run([sys.executable, "-m", "asv", "publish", "--config", str(path)],
                          cwd=clone["repo"], env=clone["env"], capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "Skipping results" not in proc.stdout
    index = json.loads((tmp_path / "html" / "index.json").read_text())
    machine = index["params"]["machine"]
    assert summary.machine in machine
    graphs = glob.glob(str(tmp_path / "html" / "graphs" / "**" / f"machine-{summary.machine}"
                           / "**" / "instructions.Instructions.track_instructions.json"),
                       recursive=True)
    assert graphs, "asv published no graph of the counts"
    with open(graphs[0]) as f:
        points = json.load(f)
    # HEAD's count; the broken commit has none to draw.
    assert [point for point in points if point[1] is not None], points
