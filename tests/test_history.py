"""asv across the project's history, the dashboard it publishes, and the build's own record.

Today's benchmark suite must run against every older build: the cases here build the first
commit of the project and HEAD with asv (in a throw-away clone whose environments are this
checkout's ``.asv/env-history``: apart from the gate tests', so that both can build at once)
and run the history benchmarks on both.  The published site must render with no network:
it is served on 127.0.0.1 and opened in headless Chromium.  They take minutes and are marked
``gate``.
"""
import functools
import glob
import http.server
import json
import math
import os
import re
import shutil
import subprocess
import sys
import threading

import pytest

from asv_clone import BESIDE_ASV_ENV, HISTORY_ENV_DIR, ROOT, env_lock, git, make_clone

gate = pytest.mark.gate
# With pytest-xdist, the module's tests run on one worker: its fixtures are made once.
pytestmark = pytest.mark.xdist_group(BESIDE_ASV_ENV)
#: The history benchmarks, as benchmarks/README.md names them.  asv matches a parameterised
#: benchmark's regular expression against ``name(params)``, hence the ``\(``.
HISTORY_BENCH = r"time_feature_map\(|time_correlate2d"
FEATURE_MAP = "feature_map.FeatureMap.time_feature_map"
#: What the test runs of them: every variant on one text and one image workload, which
#: exercise every kernel an old build may lack; the other workloads add minutes under
#: asv and call the same functions.
TEST_BENCH = (r"time_feature_map\('\w+', '(utterance|image)'"
              r"|time_correlate2d\('(utterance|image)'")


def _readme_history_bench():
    with open(os.path.join(ROOT, "benchmarks", "README.md")) as f:
        text = f.read()
    return re.search(r"--bench '([^']+)'", text.split("## Across commits: asv", 1)[1]).group(1)


def test_readme_gives_the_history_benchmarks():
    assert _readme_history_bench() == HISTORY_BENCH


@pytest.fixture(scope="module")
def history(tmp_path_factory):
    """asv results of the history benchmarks (``TEST_BENCH`` of them) on the first commit
    and on HEAD."""
    repo, env = make_clone(tmp_path_factory.mktemp("history"), HISTORY_ENV_DIR)
    first = git(repo, "rev-list", "--max-parents=0", "HEAD").splitlines()[-1]
    head = git(repo, "rev-parse", "HEAD")
    hashes = repo / "hashes.txt"
    hashes.write_text(f"{first}\n{head}\n")
    with env_lock(HISTORY_ENV_DIR):
        proc = subprocess.run(
            [sys.executable, "-m", "asv", "run", "--quick", "--show-stderr", "--bench",
             TEST_BENCH, f"HASHFILE:{hashes}"],
            cwd=repo, env=env, capture_output=True, text=True, timeout=1500)
    results = {}
    for commit in (first, head):
        paths = glob.glob(str(repo / ".asv" / "results" / "*" / f"{commit[:8]}-*.json"))
        assert len(paths) == 1, f"no results for {commit[:8]}:\n{proc.stdout[-3000:]}"
        with open(paths[0]) as f:
            results[commit] = json.load(f)
    return {"repo": repo, "env": env, "proc": proc, "first": first, "head": head,
            "results": results}


def _values(result_file, benchmark):
    """The results of each parameter combination: a number, NaN for n/a, None for failed."""
    columns = result_file["result_columns"]
    return result_file["results"][benchmark][columns.index("result")]


@gate
def test_history_benchmarks_run_on_the_first_commit_and_head(history):
    proc = history["proc"]
    assert proc.returncode == 0, proc.stdout[-5000:] + proc.stderr[-5000:]
    for commit, result_file in history["results"].items():
        for benchmark in (FEATURE_MAP, "feature_map.Correlate2d.time_correlate2d"):
            values = _values(result_file, benchmark)
            assert None not in values, f"{benchmark} failed on {commit[:8]}"
            assert any(v > 0 for v in values if not math.isnan(v))
    # The first build registers fewer variants: those cases are n/a, not failed.
    first = _values(history["results"][history["first"]], FEATURE_MAP)
    assert any(math.isnan(v) for v in first)
    assert "NotImplementedError" in proc.stdout


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def site(history):
    """The published dashboard, served on 127.0.0.1."""
    repo, env = history["repo"], history["env"]
    for command in (["asv", "publish"], ["asv_tachyon", "install", ".asv/html"]):
        proc = subprocess.run([sys.executable, "-m", *command], cwd=repo, env=env,
                              capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, proc.stdout + proc.stderr
    handler = functools.partial(_QuietHandler, directory=str(repo / ".asv" / "html"))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/"
    server.shutdown()


@pytest.fixture(scope="module")
def browser():
    """Headless Chromium through Selenium, with Debian's chromium and chromium-driver."""
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    driver_path = shutil.which("chromedriver")
    if binary is None or driver_path is None:
        why = "chromium and chromium-driver are not installed (apt-get install chromium " \
              "chromium-driver)"
        if os.environ.get("CI"):  # .ci/run installs them: missing there is a failure
            pytest.fail(why)
        pytest.skip(why)
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1400,2600"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    yield driver
    driver.quit()


def _wait_for_text(driver, *needles, timeout=90):
    """The page's text once it holds every one of ``needles``."""
    from selenium.webdriver.support.ui import WebDriverWait
    WebDriverWait(driver, timeout).until(
        lambda d: all(n in d.find_element("tag name", "body").text for n in needles))
    return driver.find_element("tag name", "body").text


@gate
def test_dashboard_renders_offline_in_chromium(site, browser, history):
    browser.get(site)
    text = _wait_for_text(browser, FEATURE_MAP)
    assert "feature_map.Correlate2d.time_correlate2d" in text
    # Every script and style the page loaded came from the local server.
    urls = browser.execute_script(
        "return performance.getEntriesByType('resource').map(e => e.name)")
    assert urls and all(u.startswith(site) for u in urls), urls

    # The graph of the feature maps, with its list of the points it drew: both commits.
    browser.get("about:blank")
    browser.get(f"{site}#view=explore&bench={FEATURE_MAP}&sub=report")
    text = _wait_for_text(browser, history["first"][:8], history["head"][:8])
    assert "recent points" in text.lower()
    assert browser.find_elements("css selector", "canvas"), "no graph was drawn"


@gate
def test_report_of_a_non_editable_install_names_its_commit(history, tmp_path):
    # asv built HEAD's wheel from the sdist of a clean clone: install it apart from the
    # checkout and ask the report where its figures come from.
    wheels = glob.glob(os.path.join(HISTORY_ENV_DIR, "*", "asv-build-cache", history["head"],
                                    "*.whl"))
    assert wheels, "asv kept no wheel of HEAD in its build cache"
    # Unpacked apart from the checkout, on PYTHONPATH ahead of the editable install; the
    # dependencies are this interpreter's.
    site_dir = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target",
                    str(site_dir), wheels[0]], check=True, capture_output=True)
    env = dict(os.environ, PYTHONPATH=str(site_dir))
    report = tmp_path / "report.json"
    proc = subprocess.run([sys.executable, "-m", "suite", "run", "--quick", "--no-progress",
                           "--workload", "utterance", "--dtype", "float64", "--variant", "tiles",
                           "--json", str(report)], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    data = json.loads(report.read_text())
    assert data["environment"]["git"] == {"commit": history["head"], "dirty": False}
    where = subprocess.run([sys.executable, "-c", "import suite; print(suite.__file__)"],
                           cwd=tmp_path, env=env, capture_output=True, text=True,
                           check=True).stdout
    assert where.startswith(str(site_dir)), where
