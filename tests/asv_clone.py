"""A throw-away clone of this repository for asv to build commits in.

Its asv environments are this checkout's ``.asv/env``: created once, shared by every test
that builds commits (and by ``.ci/gate`` after them), with the wheels of built commits
cached there.  Its results and HTML stay in the clone.

asv installs each commit it benchmarks into that environment, so two asv commands must
never use it at once.  The tests that make a clone share the pytest-xdist group
``ASV_ENV`` (one worker runs them, one after the other), and run asv under ``env_lock``,
which holds whatever the scheduler does (another ``-n``/``--dist``, two test runs).
"""
import contextlib
import fcntl
import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
#: The pytest-xdist group (``pytest.mark.xdist_group``) of the tests that use a clone.
ASV_ENV = "asv-env"


@contextlib.contextmanager
def env_lock():
    """Hold the lock of this checkout's asv environments (``.asv/env.lock``)."""
    os.makedirs(os.path.join(ROOT, ".asv"), exist_ok=True)
    with open(os.path.join(ROOT, ".asv", "env.lock"), "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        yield


def git(repo, *args):
    """Run git in ``repo``; its output, stripped."""
    return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True,
                          text=True).stdout.strip()


def make_clone(tmp):
    """Clone this repository into ``tmp/repo`` and give asv a home in ``tmp/home``.

    Returns
    -------
    repo : pathlib.Path
    env : dict
        The environment to run asv with (its own HOME, for the machine file).
    """
    repo = tmp / "repo"
    git(tmp, "clone", "-q", ROOT, str(repo))
    # asv publishes the branches asv.conf.json names (main): HEAD is that branch in the
    # clone, whatever the checkout's branch is (CI may test another branch, or none).
    git(repo, "checkout", "-q", "-B", "main")
    config_path = repo / "asv.conf.json"
    config = json.loads(config_path.read_text())
    config["env_dir"] = os.path.join(ROOT, ".asv", "env")
    config_path.write_text(json.dumps(config, indent=4))
    git(repo, "update-index", "--assume-unchanged", "asv.conf.json")
    env = dict(os.environ, HOME=str(tmp / "home"))
    env.setdefault("PIP_CACHE_DIR", os.path.join(os.path.expanduser("~"), ".cache", "pip"))
    os.makedirs(env["HOME"])
    subprocess.run([sys.executable, "-m", "asv", "machine", "--yes"], cwd=repo, env=env,
                   check=True, capture_output=True)
    return repo, env
