"""The client of ``python -m suite history run``: one Dask task per commit, files written here.

The client resolves the commits (as ``asv run`` does), reads its own toolchain, ships the
repository to the workers once (a git bundle, with the benchmark suite and the asv
configuration of this checkout), checks each worker's toolchain against its own, then
submits one task per commit not yet counted for this toolchain.  Each task returns the
result files asv wrote on the worker; the client files the instruction counts under the
toolchain's machine and the wall-clock results under the real machine that ran them.
"""
from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import time
from typing import Callable, Dict, List, Optional, Sequence

from suite.history import _results, _toolchain, _worker

#: asv's ``--bench`` for the instruction-count benchmarks: the default selection.
DEFAULT_BENCH = r"^instructions\."
#: Seconds one commit's asv run may take before it is stopped and counted as failed.
COMMIT_TIMEOUT = 3600


@dataclasses.dataclass
class Summary:
    """What a history run did.

    ``counted``: commits whose benchmarks ran; ``failed``: commits asv recorded as failed
    (a build or a benchmark that failed: their result file says so); ``lost``: commits
    whose task failed ``retries + 1`` times without a result (nothing written);
    ``skipped``: commits this toolchain already had results for.
    """

    machine: str
    results_dir: str
    workers: int
    counted: List[str] = dataclasses.field(default_factory=list)
    failed: List[str] = dataclasses.field(default_factory=list)
    lost: Dict[str, str] = dataclasses.field(default_factory=dict)
    skipped: List[str] = dataclasses.field(default_factory=list)
    refused: Dict[str, str] = dataclasses.field(default_factory=dict)
    seconds: float = 0.0

    @property
    def commits_per_hour(self) -> float:
        done = len(self.counted) + len(self.failed)
        return 3600.0 * done / self.seconds if self.seconds > 0 else 0.0

    def format(self) -> str:
        lines = [f"{len(self.counted) + len(self.failed) + len(self.lost)} commits on "
                 f"{self.workers} workers in {self.seconds / 60:.1f} min "
                 f"({self.commits_per_hour:.1f} commits/hour): {len(self.counted)} ran, "
                 f"{len(self.failed)} failed, {len(self.lost)} lost; {len(self.skipped)} "
                 f"skipped (already counted)",
                 f"counts filed under machine {self.machine} in {self.results_dir}"]
        lines += [f"  failed: {c[:8]} (asv recorded the failure)" for c in self.failed]
        lines += [f"  lost: {c[:8]}: {why}" for c, why in self.lost.items()]
        lines += [f"  refused worker {w}: {why}" for w, why in self.refused.items()]
        return "\n".join(lines)


class HistoryError(RuntimeError):
    """A run that cannot start: no usable worker, a range asv cannot resolve."""


def _git(root: str, *args: str, binary: bool = False):
    proc = subprocess.run(["git", *args], cwd=root, check=True, capture_output=True,
                          text=not binary)
    return proc.stdout


def load_config(path: str):
    """asv's configuration at ``path`` (asv.conf.json), its paths made absolute.

    asv reads the paths of its configuration from the directory it runs in, the
    configuration's: so does this, wherever it is called from.
    """
    from asv.config import Config

    conf = Config.load(path)
    root = os.path.dirname(os.path.abspath(path))
    for name in ("results_dir", "env_dir", "html_dir", "benchmark_dir"):
        setattr(conf, name, os.path.join(root, getattr(conf, name)))
    if "://" not in conf.repo and not os.path.isabs(conf.repo):
        conf.repo = os.path.normpath(os.path.join(root, conf.repo))
    return conf


def resolve(conf, ranges: Sequence[str], machine: str, results_dir: str,
            steps: Optional[int] = None) -> List[str]:
    """The commits of ``ranges``, as ``asv run`` takes them, in asv's order, each once.

    ``NEW`` is the commits of the configured branches that ``machine`` has no results
    for; ``EXISTING`` those it has.
    """
    from asv import util
    from asv.repo import NoSuchNameError, get_repo

    repo = get_repo(conf)
    hashes: List[str] = []
    for spec in ranges or [None]:
        try:
            if spec is None:
                found = [repo.get_hash_from_name(b) for b in conf.branches]
            elif spec == "ALL":
                found = repo.get_new_branch_commits(conf.branches, [])
            elif spec in ("NEW", "EXISTING"):
                done = _results.commits_with_results(results_dir, machine)
                every = repo.get_new_branch_commits(conf.branches, [])
                found = [h for h in every if (h[:8] in done) == (spec == "EXISTING")]
            elif spec.startswith("HASHFILE:"):
                path = spec[len("HASHFILE:"):]
                try:
                    with open(path) as f:
                        names = [line.strip() for line in f if line.strip()]
                except OSError as error:
                    raise HistoryError(f"RANGE {spec}: cannot read {path!r}: "
                                       f"{error.strerror}") from None
                found = [repo.get_hash_from_name(name) for name in names]
            elif ".." in spec:
                found = repo.get_hashes_from_range(spec)
            else:
                found = [repo.get_hash_from_name(spec)]
        except NoSuchNameError as error:
            raise HistoryError(f"RANGE {spec}: unknown commit or branch {error}") from None
        except util.ProcessError as error:
            raise HistoryError(f"RANGE {spec}: git cannot resolve it: {error}") from None
        hashes += found
    hashes = list(dict.fromkeys(hashes))
    if steps is not None:
        hashes = util.pick_n(hashes, steps)
    return hashes


def make_payload(root: str, config_path: str) -> Dict:
    """What every worker gets once: the repository as a git bundle, the suite, the config."""
    from asv import util

    conf = util.load_json(config_path, js_comments=True)
    bundle = _git(root, "bundle", "create", "-", "--all", binary=True)
    head_ref = subprocess.run(["git", "symbolic-ref", "-q", "HEAD"], cwd=root,
                              capture_output=True, text=True).stdout.strip()
    benchmark_dir = os.path.join(os.path.dirname(config_path), conf.get("benchmark_dir",
                                                                        "benchmarks"))
    files = {}
    for directory, subdirs, names in os.walk(benchmark_dir):
        subdirs[:] = [d for d in subdirs if d != "__pycache__"]
        for name in names:
            if name.endswith((".pyc", ".pyo")):
                continue
            path = os.path.join(directory, name)
            with open(path, "rb") as f:
                files[os.path.relpath(path, os.path.dirname(config_path))] = f.read()
    return {"bundle": bundle, "head_ref": head_ref or "refs/heads/main", "files": files,
            "config": conf}


def _file_result(result: Dict, machine: Dict, results_dir: str) -> bool:
    """Write one task's result files; whether asv recorded a failure."""
    benchmarks = result["benchmarks"]
    if benchmarks:
        path = os.path.join(results_dir, "benchmarks.json")
        known = _results.load_json(path) if os.path.exists(path) else {}
        known.update(benchmarks)
        _results.write_json(path, known)
    real = result["machine"]
    failed = result["returncode"] != 0
    for name, content in result["files"].items():
        counted, wall = _results.split(content, benchmarks)
        if counted is not None:
            _results.write_json(os.path.join(results_dir, machine["machine"], "machine.json"),
                                dict(machine, version=1))
            _results.write_json(os.path.join(results_dir, machine["machine"], name),
                                _results.for_machine(counted, machine["machine"]))
        if wall is not None:
            _results.write_json(os.path.join(results_dir, real["machine"], "machine.json"),
                                dict(real, version=1))
            _results.write_json(os.path.join(results_dir, real["machine"], name),
                                _results.for_machine(wall, real["machine"]))
        failed = failed or not content.get("results") or any(
            v is None for b in content["results"] for v in _results.values(content, b))
    return failed


def _progress(total: int, enabled: bool):
    from tqdm.auto import tqdm

    return tqdm(total=total, unit="commit", disable=not enabled, dynamic_ncols=True,
                bar_format="{l_bar}{bar}| {n_fmt}/{total_fmt} [{elapsed}<{remaining}]"
                           "{postfix}")


class _Workers:
    """The scheduler's workers and their toolchains: which the commits may run on.

    Each worker is asked for its toolchain once, when it is first seen (a worker restarted
    after a loss comes back under a new address and is asked again); those whose
    toolchain differs from the client's are refused, named in ``refused`` with why.
    """

    def __init__(self, client, payload, toolchain, refused, log):
        self.client, self.payload, self.toolchain = client, payload, toolchain
        self.refused, self.log = refused, log
        self.allowed: List[str] = []
        self.probes: Dict[str, object] = {}

    def refresh(self, wait_for_probes: bool = False) -> bool:
        """Probe new workers, take the answers in; whether every allowed worker is gone
        while one that was allowed before was replaced."""
        present = set(self.client.scheduler_info()["workers"])
        for address in present - set(self.probes):
            self.probes[address] = self.client.submit(
                _worker.toolchain, self.payload, workers=[address], pure=False,
                allow_other_workers=False, key=f"toolchain-{address}")
        for address, future in list(self.probes.items()):
            if future is None:
                continue
            if not future.done() and not (wait_for_probes and address in present):
                continue
            self.probes[address] = None
            try:
                found = future.result()["toolchain"]
            except Exception as error:  # a worker that cannot report is not used
                self._refuse(address, f"cannot read its toolchain: {error}")
                continue
            diff = _toolchain.differences(self.toolchain, found)
            if diff:
                self._refuse(address, "toolchain differs from the client's: "
                             + "; ".join(diff))
            else:
                self.allowed.append(address)
        had = bool(self.allowed)
        self.allowed = [a for a in self.allowed if a in present]
        return had and not self.allowed

    def _refuse(self, address, why):
        self.refused[address] = why
        self.log(f"refused worker {address}: {why}")

    def running(self) -> int:
        """How many commits are being counted: their tasks, up to the workers' threads."""
        processing = sum(1 for keys in self.client.processing().values() for k in keys
                         if str(k).startswith("commit-"))
        threads = sum(n for a, n in self.client.nthreads().items() if a in self.allowed)
        return min(processing, threads)


def run(ranges: Sequence[str] = (), *, workers: Optional[int] = None,
        scheduler: Optional[str] = None, bench: str = DEFAULT_BENCH,
        results_dir: Optional[str] = None, retries: int = 2, steps: Optional[int] = None,
        config: str = "asv.conf.json", env: Optional[Dict[str, str]] = None,
        progress: bool = True, log: Callable[[str], None] = print) -> Summary:
    """Run asv's benchmarks on every commit of ``ranges``, one Dask task per commit.

    Parameters
    ----------
    ranges : sequence of str
        As ``asv run`` takes them: ``ALL``, ``NEW``, ``EXISTING``, ``A..B``,
        ``HASHFILE:path``, commit hashes or branch names; the configured branches' heads
        when empty.
    workers : int, optional
        Start a ``LocalCluster`` of this many single-threaded workers (the default, with
        2 workers, when ``scheduler`` is not given).
    scheduler : str, optional
        The address of a running Dask scheduler, whose workers do the work.
    bench : str
        asv's ``--bench``: the instruction-count benchmarks by default.
    results_dir : str, optional
        Where the result files are written: asv's results directory by default.
    retries : int
        How many more times a commit's task is tried when it raises or its worker is lost.
    steps : int, optional
        Only this many commits, evenly spread over the range (asv's ``--steps``).
    config : str
        The asv configuration; its directory is the repository shipped to the workers.
    env : dict, optional
        Variables for asv on the workers (``SUITE_COUNT_ONLY``, ``_worker.FORWARDED``).
    progress : bool
        Show a progress bar (commits done, failed, running; elapsed and remaining).
    log : callable
        Where the messages go.

    Returns
    -------
    Summary

    Raises
    ------
    HistoryError
        When the range cannot be resolved, this host's toolchain cannot be read or no
        worker has it.
    """
    from dask.distributed import Client, LocalCluster, wait

    start = time.perf_counter()
    config = os.path.abspath(config)
    root = os.path.dirname(config)
    conf = load_config(config)
    results_dir = os.path.abspath(results_dir or conf.results_dir)
    payload = make_payload(root, config)
    request_env = {k: v for k, v in (env or {}).items() if k in _worker.FORWARDED}
    log("reading this host's toolchain (creates its asv environment the first time)")
    try:
        here = _worker.toolchain(payload)
    except (RuntimeError, subprocess.CalledProcessError) as error:  # ToolchainError too
        raise HistoryError(f"cannot read this host's toolchain: {error}") from None
    machine = _toolchain.machine_record(here["toolchain"], _worker.local_machine())
    name = machine["machine"]
    hashes = resolve(conf, ranges, name, results_dir, steps)
    done = _results.commits_with_results(results_dir, name)
    todo = [h for h in hashes if h[:8] not in done]
    summary = Summary(machine=name, results_dir=results_dir, workers=0,
                      skipped=[h for h in hashes if h[:8] in done])
    log(f"{len(hashes)} commits, {len(todo)} to run ({len(summary.skipped)} already counted "
        f"for machine {name})")
    if not todo:
        summary.seconds = time.perf_counter() - start
        return summary
    cluster = None
    if scheduler is None:
        cluster = LocalCluster(n_workers=workers or 2, threads_per_worker=1, processes=True,
                               dashboard_address=None)
    client = Client(cluster if cluster is not None else scheduler)
    try:
        shipped = client.scatter([payload], broadcast=True)[0]
        pool = _Workers(client, shipped, here["toolchain"], summary.refused, log)
        pool.refresh(wait_for_probes=True)
        if not pool.allowed:
            raise HistoryError("no worker has this host's toolchain; refused: "
                               + "; ".join(f"{a}: {w}" for a, w in summary.refused.items())
                               if summary.refused else "the scheduler has no workers")
        summary.workers = len(pool.allowed)
        request = {"bench": bench, "machine": machine, "toolchain": here["toolchain"],
                   "env": request_env, "timeout": COMMIT_TIMEOUT}
        attempts = dict.fromkeys(todo, 0)

        def submit(commit):
            attempts[commit] += 1
            return client.submit(_worker.run_commit, commit, shipped, request, pure=False,
                                 workers=list(pool.allowed), allow_other_workers=False,
                                 key=f"commit-{commit}-{attempts[commit]}")

        futures = {submit(c): c for c in todo}
        bar = _progress(len(todo), progress)
        while futures:
            try:
                finished = wait(list(futures), timeout=2, return_when="FIRST_COMPLETED").done
            except TimeoutError:
                finished = set()
            for future in finished:
                commit = futures.pop(future)
                if future.status == "finished":
                    result = future.result()
                    if not result["files"]:
                        why = "asv wrote no result file: " + result["log"][-300:].strip()
                        if attempts[commit] <= retries:
                            futures[submit(commit)] = commit
                            continue
                        summary.lost[commit] = why
                    elif _file_result(result, machine, results_dir):
                        summary.failed.append(commit)
                    else:
                        summary.counted.append(commit)
                else:
                    error = future.exception() if future.status == "error" else None
                    if (attempts[commit] <= retries
                            and not isinstance(error, _worker.ToolchainMismatch)):
                        futures[submit(commit)] = commit
                        continue
                    summary.lost[commit] = f"{type(error).__name__}: {error}"
                bar.update(1)
            if pool.refresh() and futures:
                # Every worker the waiting tasks may run on is gone (a restarted worker
                # comes back under another address): submitted again, to those there are.
                stale = list(futures.items())
                client.cancel([f for f, _ in stale])
                futures = {submit(c): c for _, c in stale}
            summary.workers = max(summary.workers, len(pool.allowed))
            bar.set_postfix_str(f"failed {len(summary.failed)}, lost {len(summary.lost)}, "
                                f"running {pool.running()}", refresh=True)
        bar.close()
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
    summary.seconds = time.perf_counter() - start
    return summary


def dump(summary: Summary) -> str:
    """The summary as JSON (``--json``)."""
    return json.dumps(dataclasses.asdict(summary) | {
        "commits_per_hour": summary.commits_per_hour}, indent=1)
