"""Instructions of one feature-map call per workload, variant and dtype, counted by callgrind.

Wall-clock times on a shared machine wander by tens of percent from run to run; the number
of instructions a call executes does not.  ``Instructions.track_instructions`` reports, for
every registered feature-map variant, dtype and the latency workloads (``COUNTED_WORKLOADS``),
the instructions of the calls that make up the workload: one ``suite.feature_map`` call per
filter bank, single-threaded.

All cases are counted in one ``valgrind --tool=callgrind`` process (``count``), started
once per build by ``setup_cache``: starting Python with NumPy and SciPy under callgrind
takes tens of seconds, one process per case would take far too long.  Inside it every case
is set up and warmed up uncounted, then called once inside the region marked by
``suite._callgrind`` (``--toggle-collect``), and callgrind writes that call's count to a
profile part of its own (``--dump-after``).  Of that part only the instructions executed
in the project's compiled modules and the BLAS and OpenMP runtimes count
(``kernel_instructions``): the interpreter's and NumPy's share is input checking and
allocation, whose counts follow where memory lands and so differ between processes.  With
OpenMP and BLAS on one thread, the same build gives the same counts on every run.

Where valgrind is not installed, or the build under test has no ``suite._callgrind``, the
benchmarks are skipped with the reason, not failed.

Run as a script (``python instructions.py``) it prints the counts as JSON; the driver that
runs under valgrind is ``python instructions.py --drive CASES_JSON``.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

if __package__:
    from ._common import DTYPES, FEATURE_MAP_VARIANTS, WORKLOADS, inputs
else:  # run as a script, or as the driver under valgrind
    # Appended: the build under test, installed or on PYTHONPATH, must win over the
    # source tree beside this directory.
    sys.path.append(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    from benchmarks._common import DTYPES, FEATURE_MAP_VARIANTS, WORKLOADS, inputs

#: The workloads counted: the batch-1 latency cases.
COUNTED_WORKLOADS = ("utterance", "kim-mr")

#: Environment of the counting process: one thread everywhere, a fixed hash seed.
COUNTING_ENV = {
    "PYTHONHASHSEED": "0",
    "OMP_NUM_THREADS": "1",
    "OMP_WAIT_POLICY": "PASSIVE",
    "OPENBLAS_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "BLIS_NUM_THREADS": "1",
    "VECLIB_MAXIMUM_THREADS": "1",
}

_REGION = "textcnn_suite_counted_region"  # suite._callgrind.REGION, also in older builds


def case_key(workload, variant, dtype):
    """The key of one case in the dictionary ``count`` returns."""
    return f"{workload}/{variant}/{dtype}"


def cases():
    """Every counted case the build under test can run: ``(workload, variant, dtype)``.

    Returns
    -------
    list of tuple of str
    """
    import suite
    registered = suite.variants()["feature_map"]
    return [(workload, name, dtype)
            for workload in COUNTED_WORKLOADS
            for name in FEATURE_MAP_VARIANTS if name in registered
            for dtype in DTYPES]


def unavailable():
    """Why instructions cannot be counted here, or ``None`` when they can.

    Returns
    -------
    str or None
    """
    if shutil.which("valgrind") is None:
        return "valgrind is not installed (needed to count instructions with callgrind)"
    try:
        import suite._callgrind  # noqa: F401
    except ImportError:
        return "this build of suite has no suite._callgrind (the counted region)"
    return None


def counts_toward_kernel(obj, package_dir):
    """Whether instructions executed in the shared object ``obj`` are the kernel's own.

    The kernel's own code is the project's compiled modules and the BLAS and OpenMP
    runtimes they call.  The interpreter, NumPy and the C library are left out: their
    share is input checking and allocation, whose instruction counts follow where the
    allocator happens to place memory, which differs from one process to the next.
    """
    name = os.path.basename(obj).lower()
    return obj.startswith(package_dir + os.sep) or "openblas" in name or "libgomp" in name


def kernel_instructions(path, package_dir):
    """Instructions of one callgrind profile part spent in the kernel's own code.

    Sums the self cost of every function whose object ``counts_toward_kernel``; the cost
    lines right after a ``calls=`` line are inclusive costs of a call, not self costs.
    """
    objects = {}    # callgrind's name compression: "(id) name" defines, "(id)" refers
    current = None
    after_call = False
    total = 0
    with open(path) as f:
        for line in f:
            if line.startswith(("ob=", "cob=")):
                spec = line.split("=", 1)[1].strip()
                if spec.startswith("("):
                    ident, _, name = spec.partition(")")
                    name = name.strip() or objects[ident]
                    objects[ident] = name
                else:
                    name = spec
                if line.startswith("ob="):
                    current = name
            elif line.startswith("calls="):
                after_call = True
            elif line[:1].isdigit() or line[:1] in "+-*":
                if after_call:
                    after_call = False
                elif current is not None and counts_toward_kernel(current, package_dir):
                    fields = line.split()
                    total += int(fields[1]) if len(fields) > 1 else 0
    return total


def count(selected=None, valgrind="valgrind"):
    """Count the instructions of every case in one callgrind process.

    Parameters
    ----------
    selected : list of (workload, variant, dtype), optional
        The cases to count; all of ``cases()`` by default.
    valgrind : str, optional
        The valgrind executable.

    Returns
    -------
    dict
        ``case_key(...)`` -> instructions executed by that case's calls.

    Raises
    ------
    RuntimeError
        When valgrind fails or does not write one profile part per case.
    """
    import suite

    selected = list(cases() if selected is None else selected)
    # The child imports the same suite as this process, installed or built in place.
    root = os.path.dirname(os.path.dirname(os.path.abspath(suite.__file__)))
    # Only fixed variables: what differs between runs (a random temporary directory name,
    # the caller's environment) must not reach the counted process's memory layout.
    env = dict(COUNTING_ENV, PATH=os.environ.get("PATH", os.defpath), LC_ALL="C")
    env["PYTHONPATH"] = os.pathsep.join(
        [root] + [p for p in [os.environ.get("PYTHONPATH")] if p])
    work = os.path.join(tempfile.gettempdir(), "suite-callgrind")
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    try:
        command = [valgrind, "--tool=callgrind", f"--toggle-collect={_REGION}",
                   f"--dump-after={_REGION}", "--callgrind-out-file=callgrind.out",
                   sys.executable, os.path.abspath(__file__), "--drive", json.dumps(selected)]
        proc = subprocess.run(command, env=env, cwd=work, capture_output=True, text=True)
        if proc.returncode != 0:
            raise RuntimeError(f"callgrind exited with status {proc.returncode}:\n"
                               f"{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}")
        parts = [os.path.join(work, f"callgrind.out.{i}") for i in range(1, len(selected) + 1)]
        missing = [p for p in parts if not os.path.exists(p)]
        extra = os.path.join(work, f"callgrind.out.{len(selected) + 1}")
        if missing or os.path.exists(extra):
            raise RuntimeError(f"expected {len(selected)} callgrind profile parts in {work}, "
                               f"got {sorted(os.listdir(work))}")
        package_dir = os.path.dirname(os.path.abspath(suite.__file__))
        return {case_key(*case): kernel_instructions(part, package_dir)
                for case, part in zip(selected, parts)}
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _drive(selected):
    """Run under callgrind: each case once inside the counted region, in order."""
    import suite
    from suite._callgrind import counted

    for workload, variant, dtype in selected:
        x, banks = inputs(WORKLOADS[workload], dtype)

        def calls(x=x, banks=banks, variant=variant):
            for weights, bias in banks:
                suite.feature_map(x, weights, bias, variant=variant, n_threads=1)

        # Once uncounted first, on the first rows only (same filters, dtype and code
        # paths): what happens once per process (the CPU dispatch, lazy imports) is not
        # the kernel's cost.
        calls(x[:, :max(weights.shape[1] for weights, _ in banks) + 1])
        counted(calls)


class Instructions:
    """Instructions of one workload's ``feature_map`` calls, per variant and dtype."""

    unit = "instructions"
    params = [list(COUNTED_WORKLOADS), list(FEATURE_MAP_VARIANTS), list(DTYPES)]
    param_names = ["workload", "variant", "dtype"]
    timeout = 900

    def setup_cache(self):
        reason = unavailable()
        if reason is not None:
            return {"skip": reason}
        return count()

    setup_cache.timeout = 900

    def setup(self, counts, workload, variant, dtype):
        if "skip" in counts:
            raise NotImplementedError(counts["skip"])
        if case_key(workload, variant, dtype) not in counts:
            raise NotImplementedError(f"this build has no feature_map variant {variant!r}")

    def track_instructions(self, counts, workload, variant, dtype):
        return counts[case_key(workload, variant, dtype)]


if __name__ == "__main__":
    if sys.argv[1:2] == ["--drive"]:
        _drive(json.loads(sys.argv[2]))
    else:
        print(json.dumps(count(), indent=1))
