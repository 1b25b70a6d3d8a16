"""A throw-away clone of this repository for asv to build commits in.

Its asv environments are this checkout's ``.asv/env`` (``ENV_DIR``) by default: created
once, shared by the gate tests (and by ``.ci/gate`` after them), with the wheels of built
commits cached there; the history tests have environments of their own
(``HISTORY_ENV_DIR``), so that they can run beside the gate tests.  Its results and HTML
stay in the clone.

asv installs each commit it benchmarks into the environment, so two asv commands must never
use one at once.  The tests that share one are a pytest-xdist group (one worker runs them,
one after the other), and run asv under ``env_lock``, which holds whatever the scheduler
does (another ``-n`` or ``--dist``, two test runs).
"""
import contextlib
import fcntl
import json
import os
import shutil
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
#: The asv environments of the gate tests and of ``.ci/gate``.
ENV_DIR = os.path.join(ROOT, ".asv", "env")
#: The asv environments of the history tests.
HISTORY_ENV_DIR = os.path.join(ROOT, ".asv", "env-history")
#: The pytest-xdist group (``pytest.mark.xdist_group``) of the tests using ``ENV_DIR``.
ASV_ENV = "asv-env"
#: The group of the other slow tests: the history tests (``HISTORY_ENV_DIR``) and the
#: instruction counts that need no asv.  One worker runs them while another runs the
#: ``ASV_ENV`` group, the longest: apart, the scheduler may queue them behind it.
BESIDE_ASV_ENV = "beside-asv-env"


@contextlib.contextmanager
def env_lock(env_dir=ENV_DIR):
    """Hold the lock of the asv environments in ``env_dir`` (``env_dir + ".lock"``)."""
    os.makedirs(os.path.dirname(env_dir), exist_ok=True)
    with open(env_dir + ".lock", "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        yield


def git(repo, *args):
    """Run git in ``repo``; its output, stripped."""
    return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True,
                          text=True).stdout.strip()


def make_clone(tmp, env_dir=ENV_DIR):
    """Clone this repository into ``tmp/repo`` and give asv a home in ``tmp/home``.

    asv keeps the clone's environments in ``env_dir``.

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
    config["env_dir"] = env_dir
    config_path.write_text(json.dumps(config, indent=4))
    git(repo, "update-index", "--assume-unchanged", "asv.conf.json")
    env = dict(os.environ, HOME=str(tmp / "home"))
    # The caches of this HOME, not of the new one: pip's wheels, and ccache's objects, so
    # that .ci/gate's build of the parent after the tests (in the same environment, with
    # the same compiler command lines) compiles only the modules whose C source differs
    # from HEAD's, and a later run on this machine fewer still.
    env.setdefault("PIP_CACHE_DIR", os.path.join(os.path.expanduser("~"), ".cache", "pip"))
    if "CCACHE_DIR" not in env and shutil.which("ccache"):
        found = subprocess.run(["ccache", "-k", "cache_dir"], capture_output=True, text=True)
        if found.returncode == 0 and found.stdout.strip():
            env["CCACHE_DIR"] = found.stdout.strip()
    os.makedirs(env["HOME"])
    subprocess.run([sys.executable, "-m", "asv", "machine", "--yes"], cwd=repo, env=env,
                   check=True, capture_output=True)
    return repo, env
