"""The work of one commit, as a Dask worker does it: build it with asv, run, send back.

A worker needs no shared filesystem and no access to the client's repository: the client
ships its commits as a git bundle, with its benchmark suite and asv configuration, and
every task gets them by reference.  Each task works in a *slot*: a directory of the
worker's scratch space (``SCRATCH_ENV``, by default ``DEFAULT_SCRATCH``) holding a mirror
of the repository and the asv environment, kept between tasks and between runs so that an
environment is created, and a commit's wheel built, once.  A slot is held by one task at a
time (an exclusive ``flock``); tasks on one host take the first free slot.  asv runs in a
process group of its own, recorded in the slot, so that when a worker dies with its task
the next task in that slot stops what the lost one left running before it starts.

The environments' paths are the same on every host (the scratch directory is a fixed
path, the slots are numbered with two digits): the inclusive counts (the interpreter's
work included) depend on the memory layout of the counting process, which the paths
Python starts from are part of.
"""
from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from typing import Dict, Iterator, Mapping, Optional

from suite.history import _toolchain

#: Environment variable naming the scratch directory of the slots on a worker's host: the
#: same path on every worker, or their inclusive counts differ.
SCRATCH_ENV = "SUITE_HISTORY_SCRATCH"
#: The scratch directory when ``SCRATCH_ENV`` is not set.
DEFAULT_SCRATCH = "/tmp/textcnn-suite-history"
#: How many slots a host may have (their numbers have two digits).
MAX_SLOTS = 100
#: Environment variables passed on to asv's benchmark processes when the client sets them.
FORWARDED = ("SUITE_COUNT_ONLY",)
#: The last characters of asv's output returned with a result, for the client's log.
LOG_TAIL = 20000


class ToolchainMismatch(RuntimeError):
    """A worker whose toolchain is not the client's: its counts would be another series."""


def scratch_root() -> str:
    """The directory of this host's slots."""
    root = os.environ.get(SCRATCH_ENV) or DEFAULT_SCRATCH
    os.makedirs(root, exist_ok=True)
    return root


def _kill_stale(slot: str) -> None:
    """Stop the process group a lost task left running in ``slot``."""
    path = os.path.join(slot, "asv.pgid")
    try:
        with open(path) as f:
            pgid = int(f.read().strip())
    except (OSError, ValueError):
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)
    os.remove(path)


@contextlib.contextmanager
def slot() -> Iterator[str]:
    """Hold the first free slot of this host: its directory, for the ``with`` block."""
    root = scratch_root()
    for i in range(MAX_SLOTS):
        path = os.path.join(root, f"slot-{i:02d}")
        os.makedirs(path, exist_ok=True)
        lock = open(os.path.join(path, "lock"), "w")  # noqa: SIM115
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.close()
            continue
        try:
            _kill_stale(path)
            yield path
        finally:
            lock.close()
        return
    raise RuntimeError(f"all {MAX_SLOTS} slots of {root} are taken")


def _git(repo: str, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True,
                          text=True).stdout.strip()


def _repository(path: str, payload: Mapping) -> str:
    """The slot's mirror of the client's repository, updated from the payload's bundle."""
    repo = os.path.join(path, "repo.git")
    marker = os.path.join(path, "bundle.sha256")
    sha = hashlib.sha256(payload["bundle"]).hexdigest()
    if os.path.exists(marker):
        with open(marker) as f:
            if f.read() == sha:
                return repo
    if not os.path.isdir(repo):
        subprocess.run(["git", "init", "-q", "--bare", repo], check=True, capture_output=True)
    with tempfile.NamedTemporaryFile(suffix=".bundle", dir=path) as bundle:
        bundle.write(payload["bundle"])
        bundle.flush()
        _git(repo, "fetch", "-q", "--force", "--update-head-ok", bundle.name,
             "refs/*:refs/*")
    _git(repo, "symbolic-ref", "HEAD", payload["head_ref"])
    with open(marker, "w") as f:
        f.write(sha)
    return repo


def _write_project(task: str, payload: Mapping, repo: str, env_dir: str) -> str:
    """The client's benchmark suite and asv configuration in ``task``; the config's path."""
    for name, data in payload["files"].items():
        target = os.path.join(task, name)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with open(target, "wb") as f:
            f.write(data)
    config = dict(payload["config"], repo=repo, env_dir=env_dir,
                  results_dir=os.path.join(task, "results"),
                  html_dir=os.path.join(task, "html"))
    path = os.path.join(task, "asv.conf.json")
    with open(path, "w") as f:
        json.dump(config, f, indent=4)
    return path


def _environment(config_path: str, environ: Mapping[str, str]) -> str:
    """Create the asv environment of ``config_path`` if needed; its Python executable."""
    from asv import environment
    from asv.config import Config

    conf = Config.load(config_path)
    envs = list(environment.get_environments(conf, [], verbose=False))
    if len(envs) != 1:
        raise RuntimeError(f"the asv configuration gives {len(envs)} environments, not one")
    python = os.path.join(conf.env_dir, envs[0].dir_name, "bin", "python")
    if not os.path.exists(python):
        # asv setup exits with status 1 when it succeeds (its command returns the list of
        # environments): the environment's Python tells.
        proc = subprocess.run([sys.executable, "-m", "asv", "setup", "--config", config_path],
                              capture_output=True, text=True, env=dict(environ))
        if not os.path.exists(python):
            raise RuntimeError("asv could not create its environment:\n"
                               + (proc.stdout + proc.stderr)[-4000:])
    return python


def _machine_file(home: str, machines: Mapping[str, Mapping]) -> None:
    os.makedirs(home, exist_ok=True)
    with open(os.path.join(home, ".asv-machine.json"), "w") as f:
        json.dump(dict(machines, version=1), f, indent=4)


def local_machine() -> Dict[str, str]:
    """asv's description of this host (what ``asv machine --yes`` records)."""
    from asv.machine import Machine

    return {k: str(v) for k, v in Machine.get_defaults().items()}


def toolchain(payload: Mapping, environ: Optional[Mapping[str, str]] = None) -> Dict:
    """This host's toolchain for the payload's asv configuration (the environment made).

    Returns ``{"toolchain": ..., "host": ..., "seconds": ...}``.
    """
    environ = dict(os.environ if environ is None else environ)
    start = time.perf_counter()
    with slot() as path, tempfile.TemporaryDirectory(dir=path) as task:
        repo = _repository(path, payload)
        config = _write_project(task, payload, repo, os.path.join(path, "env"))
        python = _environment(config, environ)
        found = _toolchain.probe(python, environ=environ)
    return {"toolchain": found, "host": socket.gethostname(),
            "seconds": time.perf_counter() - start}


def _environ(request: Mapping, home: str) -> Dict[str, str]:
    environ = dict(os.environ, HOME=home)
    for name in FORWARDED:
        environ.pop(name, None)
    environ.update(request.get("env", {}))
    # The caches of the worker's own home: pip's wheels and ccache's objects.
    user = os.path.expanduser("~")
    environ.setdefault("PIP_CACHE_DIR", os.path.join(user, ".cache", "pip"))
    if "CCACHE_DIR" not in environ:
        environ["CCACHE_DIR"] = os.path.join(user, ".cache", "ccache")
    return environ


def run_commit(commit: str, payload: Mapping, request: Mapping) -> Dict:
    """Build ``commit`` and run the requested benchmarks on it with asv, in a slot.

    Parameters
    ----------
    commit : str
        The full hash of the commit.
    payload : dict
        What the client ships once: ``bundle`` (a git bundle of its commits), ``head_ref``,
        ``files`` (the benchmark suite, by path), ``config`` (its asv configuration).
    request : dict
        ``bench`` (asv's ``--bench``), ``machine`` (the machine record counts are filed
        under, with its ``toolchain``), ``env`` (variables for asv), ``timeout``.

    Returns
    -------
    dict
        ``commit``, ``returncode`` (asv's), ``files`` (the result files asv wrote, by name,
        parsed), ``benchmarks`` (asv's ``benchmarks.json``), ``host`` and ``machine`` (this
        host's asv record, for wall-clock results), ``log`` (the end of asv's output),
        ``seconds``.

    Raises
    ------
    ToolchainMismatch
        When this host's toolchain differs from the one the counts are filed under.
    """
    start = time.perf_counter()
    machine = request["machine"]
    name = machine["machine"]
    with slot() as path, tempfile.TemporaryDirectory(dir=path) as task:
        home = os.path.join(task, "home")
        environ = _environ(request, home)
        repo = _repository(path, payload)
        config = _write_project(task, payload, repo, os.path.join(path, "env"))
        python = _environment(config, environ)
        found = _toolchain.probe(python, environ=environ)
        expected = request["toolchain"]
        diff = _toolchain.differences(expected, found)
        if diff:
            raise ToolchainMismatch(f"the toolchain of {socket.gethostname()} is not the "
                                    "client's: " + "; ".join(diff))
        real = local_machine()
        _machine_file(home, {name: machine, real["machine"]: real})
        hashes = os.path.join(task, "hashes.txt")
        with open(hashes, "w") as f:
            f.write(commit + "\n")
        command = [sys.executable, "-m", "asv", "run", "--config", config, "--machine", name,
                   "--show-stderr", "--bench", request["bench"], f"HASHFILE:{hashes}"]
        proc = subprocess.Popen(command, cwd=task, env=environ, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, text=True,
                                start_new_session=True)
        with open(os.path.join(path, "asv.pgid"), "w") as f:
            f.write(str(proc.pid))
        try:
            log, _ = proc.communicate(timeout=request.get("timeout"))
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            log, _ = proc.communicate()
            log += f"\nasv did not finish in {request.get('timeout')} s and was stopped"
        finally:
            with contextlib.suppress(OSError):
                os.remove(os.path.join(path, "asv.pgid"))
        results = os.path.join(task, "results")
        files = {}
        for entry in sorted(os.listdir(os.path.join(results, name))
                            if os.path.isdir(os.path.join(results, name)) else []):
            if entry.startswith(commit[:8]) and entry.endswith(".json"):
                with open(os.path.join(results, name, entry)) as f:
                    files[entry] = json.load(f)
        benchmarks = {}
        if os.path.exists(os.path.join(results, "benchmarks.json")):
            with open(os.path.join(results, "benchmarks.json")) as f:
                benchmarks = json.load(f)
        shutil.rmtree(os.path.join(task, "html"), ignore_errors=True)
    return {"commit": commit, "returncode": proc.returncode, "files": files,
            "benchmarks": benchmarks, "host": socket.gethostname(), "machine": real,
            "log": log[-LOG_TAIL:], "seconds": time.perf_counter() - start}
