"""The instruction counter of the performance gate: callgrind over the public calls.

Wall-clock times on a shared machine wander by tens of percent from run to run; the number
of instructions a call executes does not.  For the workloads of ``COUNTED_WORKLOADS``
and both dtypes this module counts the calls that make up a workload (``cases``): every
feature-map variant, every pooling method, ``conv_pool`` of every variant with the layer
of Kim 2014, ``conv_pool`` of ``FUSED_VARIANT`` with every activation and pooling method
(``COUNTED_LAYERS`` on ``LAYER_WORKLOADS``) and ``TextCNN.logits``
(``COUNTED_MODEL_CASES``).  The asv classes that report the counts are in
``instructions.py``; this module is their driver and parser.

Each case has two counts of the same calls.  The kernel's own (``"kernel"``): the
instructions executed in the project's compiled modules and the BLAS and OpenMP runtimes
(``counts_toward_kernel``).  Everything the calls execute (``"inclusive"``): the
interpreter running the Python layer, NumPy's conversions and allocations, the C library,
the kernel.  A change to the Python layer shows in the second only.

The cases are counted by ``COUNT_PROCESSES`` ``valgrind --tool=callgrind`` processes
running side by side (``count``), started once per build by the ``setup_cache`` the classes
share: starting Python with NumPy under callgrind takes tens of seconds, so one process per
case would take far too long, while one process for all of them leaves every core but one
idle.  The selection is split the same way every time (``groups``: every
``COUNT_PROCESSES``-th case, in order), so a case is counted after the same cases in every
run and in every build that has the same cases.  Inside each process every case is set up
and warmed up uncounted, then called once inside the region marked by ``suite._callgrind``
(``--toggle-collect``), and callgrind writes that call's count to a profile part of its own
(``--dump-after``).  What makes the inclusive count repeatable from process to process
(see ``_drive``): a fixed environment and hash seed, warm-up calls through the same Python
code before the counted one (so the interpreter has specialised it), no cyclic garbage
collection in the counting process (a collection landing in one counted call would add
millions of instructions to it), and the bytecode of every module the driver imports cached
before the count (``_cache_bytecode``).

Where valgrind is not installed, or the build under test has no ``suite._callgrind``, the
benchmarks are skipped with the reason, not failed.  A case the build under test lacks (a
variant, pooling method or activation it does not have) is n/a.

As a script: ``python counting.py`` prints the counts as JSON; ``python
counting.py --spread RUNS [WORKLOAD ...]`` counts RUNS times, each in fresh valgrind
processes, and prints each case's largest over smallest count (docs/gate.md gives the
spreads measured); ``python counting.py --mix [WORKLOAD ...]`` counts the cases of those
workloads (every case by default) and prints each kernel function's executed instruction
mix (``mix.py``: packed and scalar floating-point instructions, operations per
instruction); the driver that runs under valgrind is ``python counting.py --drive CASES``.
"""
import gc
import json
import os
import shutil
import subprocess
import sys
import tempfile

if __package__:
    from . import mix as _mix
    from ._common import (ACTIVATIONS, DTYPES, FEATURE_MAP_VARIANTS, LAYER, POOL_ARGS,
                          POOL_METHODS, WORKLOADS, inputs, intent_model, intent_tokens, maps)
else:  # run as a script, or as the driver under valgrind
    # Appended: the build under test, installed or on PYTHONPATH, must win over the
    # source tree beside this directory.
    sys.path.append(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    from benchmarks import mix as _mix
    from benchmarks._common import (ACTIVATIONS, DTYPES, FEATURE_MAP_VARIANTS, LAYER,
                                    POOL_ARGS, POOL_METHODS, WORKLOADS, inputs, intent_model,
                                    intent_tokens, maps)

#: The workloads counted: the batch-1 latency cases of the text-CNN, and one image with
#: small 2-D filters (the direct kernel's case).
COUNTED_WORKLOADS = ("utterance", "kim-mr", "image-3x3")
#: The cases of the seed's classifier counted (``suite.TextCNN.logits``): one utterance.
COUNTED_MODEL_CASES = ("utterance-8", "utterance-16")
#: Environment variable naming the only workloads, or dtypes, to count (comma-separated:
#: ``utterance``, ``utterance,float32``), to keep a test short; the classifier's cases
#: are always counted, in the dtypes selected.
ONLY_ENV = "SUITE_COUNT_ONLY"
#: The fused variant counted with every activation and pooling method.
FUSED_VARIANT = "tiles"
#: The workloads whose layers are counted on ``FUSED_VARIANT``: the utterance alone.  On
#: ``kim-mr`` the same code paths added 8 s to the 54 s count of a build (two per gate);
#: ``ConvPoolInstructions`` still counts its layer of Kim 2014 on every variant.
LAYER_WORKLOADS = ("utterance",)
#: The (activation, method) pairs counted on ``FUSED_VARIANT``: every activation with max
#: pooling (activated once per map) and with average pooling (activated at every
#: position), and ReLU with the other methods.
COUNTED_LAYERS = tuple((a, m) for m in ("max", "avg") for a in ACTIVATIONS) + tuple(
    ("relu", m) for m in POOL_METHODS if m not in ("max", "avg"))

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

#: How many valgrind processes ``count`` runs at once.  Fixed, not the machine's core
#: count: which cases share a process (and so run before one another) must not depend on
#: where the count runs.
COUNT_PROCESSES = 2

#: Uncounted calls of each case, on its first rows, before the counted one.
WARMUP_CALLS = 3

_REGION = "textcnn_suite_counted_region"  # suite._callgrind.REGION, also in older builds


def case_key(kind, workload, name, dtype, activation=None, method=None):
    """The key of one case in the dictionary ``count`` returns.

    ``kind`` is the public function (``"feature_map"``, ``"pool"``, ``"conv_pool"``),
    ``name`` its variant (the pooling method for ``"pool"``); a ``"conv_pool"`` case also
    has an activation and a pooling method.
    """
    parts = [kind, workload, name, dtype] + ([activation, method] if kind == "conv_pool" else [])
    return "/".join(parts)


def _accepts(activation, method, dtype):
    """Whether the build's ``conv_pool`` knows this activation and pooling method.

    Only "unknown ..." (what the public functions say of a name they do not have) means
    no: any other error is a broken build and is raised.
    """
    import numpy as np
    import suite

    x = np.ones((8, 4), dtype)
    try:
        suite.conv_pool(x, np.ones((1, 1, 4), dtype), activation=activation, method=method,
                        n_threads=1, **POOL_ARGS.get(method, {}))
    except ValueError as e:
        if str(e).startswith("unknown"):
            return False
        raise
    return True


def cases():
    """Every counted case the build under test can run, as ``case_key`` arguments.

    Returns
    -------
    list of tuple of str
    """
    import suite

    registered = suite.variants()
    fmaps, pools = registered.get("feature_map", {}), registered.get("pool", {})
    fused = registered.get("conv_pool", {})
    layers = [(a, m) for a, m in COUNTED_LAYERS
              if fused and m in pools and _accepts(a, m, DTYPES[0])]
    kim = (LAYER["activation"], LAYER["method"])
    workloads, dtypes = selection()
    selected = []
    for workload in workloads:
        for dtype in dtypes:
            selected += [("feature_map", workload, v, dtype)
                         for v in FEATURE_MAP_VARIANTS if v in fmaps]
            selected += [("pool", workload, m, dtype) for m in POOL_METHODS if m in pools]
            selected += [("conv_pool", workload, v, dtype) + kim
                         for v in FEATURE_MAP_VARIANTS if v in fused and kim in layers]
            if workload in LAYER_WORKLOADS:
                selected += [("conv_pool", workload, FUSED_VARIANT, dtype, a, m)
                             for a, m in layers if (a, m) != kim and FUSED_VARIANT in fused]
    if hasattr(suite, "TextCNN"):
        selected += [("model", case, "logits", dtype)
                     for case in COUNTED_MODEL_CASES for dtype in dtypes]
    return selected


def selection():
    """The workloads and dtypes ``ONLY_ENV`` selects: all of either it names none of.

    Raises
    ------
    ValueError
        When it names something that is neither a counted workload nor a dtype.
    """
    names = [n.strip() for n in os.environ.get(ONLY_ENV, "").split(",") if n.strip()]
    unknown = [n for n in names if n not in COUNTED_WORKLOADS and n not in DTYPES]
    if unknown:
        raise ValueError(f"{ONLY_ENV}: {unknown[0]!r} is neither a counted workload "
                         f"({', '.join(COUNTED_WORKLOADS)}) nor a dtype ({', '.join(DTYPES)})")
    workloads = [w for w in COUNTED_WORKLOADS if w in names] or list(COUNTED_WORKLOADS)
    dtypes = [d for d in DTYPES if d in names] or list(DTYPES)
    return workloads, dtypes


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

    The kernel's own code is the project's compiled modules and the BLAS, OpenMP and
    math (``expm1``, ``tanh``, and libmvec's vector forms) runtimes they call.  The
    interpreter, NumPy and the rest of the C library are the Python layer's share: input
    checking, conversion, allocation.
    """
    name = os.path.basename(obj).lower()
    return (obj.startswith(package_dir + os.sep) or "openblas" in name or "libgomp" in name
            or name.startswith(("libm.", "libm-", "libmvec.")))


def _short_path(path):
    """A source file as the summary shows it: from ``pyx/`` or ``suite/`` on, else its name."""
    parts = path.split("/")
    for top in ("pyx", "suite"):
        if top in parts:
            return "/".join(parts[len(parts) - 1 - parts[::-1].index(top):])
    return parts[-1]


def read_part(path, package_dir, detail=False, disassembly=None):
    """Instructions of one callgrind profile part, and with ``detail`` where they went.

    Sums the self cost of every function, and apart the self cost of the functions whose
    object ``counts_toward_kernel``; the cost lines right after a ``calls=`` line are
    inclusive costs of a call, not self costs.  Reads profiles with and without
    ``--dump-instr=yes`` (its ``positions:`` line says which).

    Parameters
    ----------
    path, package_dir : str
        The profile part, and the directory of the ``suite`` package whose compiled
        modules are the project's own code.
    detail : bool, optional
        Also return the self cost of every function, the cost of each source line of the
        project's own functions and their instruction mix (``mix.function_mix``).
    disassembly : mix.Disassembly, optional
        Where the mix looks up the project's objects' instructions (made when not given).

    Returns
    -------
    dict
        ``{"kernel": ..., "inclusive": ...}``; with ``detail`` also ``"functions"``
        (``"object:function"`` -> ``[kernel?, self cost]``), ``"lines"`` (a project
        function -> ``{"file:line": cost}``) and ``"mix"`` (a project function that ran a
        floating-point instruction -> its mix).
    """
    objects, files, names = {}, {}, {}  # callgrind's name compression, one table each
    positions = ["line"]
    state = [0]
    current = fn = source = None
    kernel_object = own_object = False
    after_call = False
    kernel = inclusive = 0
    functions, lines, addresses = {}, {}, {}

    def compressed(table, spec):
        spec = spec.strip()
        if spec.startswith("("):
            ident, _, name = spec.partition(")")
            name = name.strip() or table[ident]
            table[ident] = name
            return name
        return spec

    with open(path) as f:
        for line in f:
            head = line[:1]
            if head.isdigit() or head in "+-*":
                fields = line.split()
                n = len(positions)
                if detail:
                    for i, field in enumerate(fields[:n]):
                        if field == "*":
                            continue
                        if field[0] in "+-":
                            state[i] += int(field)
                        else:
                            state[i] = int(field, 0)
                cost = int(fields[n]) if len(fields) > n else 0
                if after_call:
                    after_call = False
                    continue
                inclusive += cost
                if kernel_object:
                    kernel += cost
                if detail and cost:
                    key = f"{os.path.basename(current or '???')}:{fn}"
                    entry = functions.setdefault(key, [kernel_object, 0])
                    entry[1] += cost
                    if own_object:
                        if "line" in positions:
                            where = f"{source}:{state[positions.index('line')]}"
                            own = lines.setdefault(key, {})
                            own[where] = own.get(where, 0) + cost
                        if "instr" in positions:
                            own = addresses.setdefault((current, key), {})
                            address = state[positions.index("instr")]
                            own[address] = own.get(address, 0) + cost
            elif line.startswith(("ob=", "cob=")):
                name = compressed(objects, line.split("=", 1)[1])
                if line.startswith("ob="):
                    current = name
                    kernel_object = counts_toward_kernel(current, package_dir)
                    own_object = current.startswith(package_dir + os.sep)
            elif line.startswith(("fl=", "fi=", "fe=", "cfi=", "cfl=")):
                name = _short_path(compressed(files, line.split("=", 1)[1]))
                if not line.startswith("c"):
                    source = name
            elif line.startswith(("fn=", "cfn=")):
                name = compressed(names, line.split("=", 1)[1])
                if line.startswith("fn="):
                    # callgrind names a function's recursive calls name'2, name'3 ...
                    fn = name.rsplit("'", 1)[0] if "'" in name else name
            elif line.startswith("calls="):
                after_call = True
            elif line.startswith("positions:"):
                positions = line.split(":", 1)[1].split()
                state = [0] * len(positions)
    out = {"kernel": kernel, "inclusive": inclusive}
    if detail:
        from_objects = disassembly if disassembly is not None else _mix.Disassembly()
        out["functions"] = functions
        out["lines"] = lines
        out["mix"] = {}
        for (obj, key), costs in addresses.items():
            m = _mix.function_mix(costs, from_objects(obj))
            if _mix.floating_point(m):
                out["mix"][key] = m
    return out


def part_instructions(path, package_dir):
    """Instructions of one callgrind profile part: ``{"kernel": ..., "inclusive": ...}``.

    ``read_part`` without the detail.
    """
    return read_part(path, package_dir)


def kernel_instructions(path, package_dir):
    """Instructions of one callgrind profile part spent in the kernel's own code."""
    return part_instructions(path, package_dir)["kernel"]


def groups(selected, n=COUNT_PROCESSES):
    """The cases of each counting process: every ``n``-th case of ``selected``, in order.

    Depends on the selection alone, so the same cases are always counted together and in
    the same order.  Taking every ``n``-th case spreads each workload's, dtype's and
    variant's cases (and so the expensive ones) over the processes.  Empty groups are
    left out.

    Returns
    -------
    list of list
    """
    return [group for group in (list(selected[i::n]) for i in range(n)) if group]


def count(selected=None, valgrind="valgrind", detail=False):
    """Count the instructions of every case, in ``COUNT_PROCESSES`` callgrind processes.

    The cases are split by ``groups``; each group is counted by a valgrind process of its
    own, in a work directory of its own, all of them at once.  callgrind records the cost
    of each instruction address (``--dump-instr=yes``), which changes no count.

    Parameters
    ----------
    selected : list of tuple, optional
        The cases to count, as ``case_key`` arguments; all of ``cases()`` by default.
    valgrind : str, optional
        The valgrind executable.
    detail : bool, optional
        Also say where each case's instructions went (``read_part``'s ``"functions"``,
        ``"lines"`` and ``"mix"``).

    Returns
    -------
    dict
        ``case_key(...)`` -> ``{"kernel": ..., "inclusive": ...}``, the instructions
        executed by that case's calls in the kernel's own code and in all, in the order
        of ``selected`` (with ``detail``, and where they went).

    Raises
    ------
    RuntimeError
        When valgrind fails or does not write one profile part per case.
    """
    import suite

    selected = [tuple(case) for case in (cases() if selected is None else selected)]
    # The child imports the same suite as this process, installed or built in place.
    root = os.path.dirname(os.path.dirname(os.path.abspath(suite.__file__)))
    # Real paths: callgrind names objects by theirs, whatever links led to them.
    package_dir = os.path.dirname(os.path.realpath(suite.__file__))
    # Only fixed variables: what differs between runs (a random temporary directory name,
    # the caller's environment) must not reach the counted process's memory layout.
    env = dict(COUNTING_ENV, PATH=os.environ.get("PATH", os.defpath), LC_ALL="C")
    env["PYTHONPATH"] = os.pathsep.join(
        [root] + [p for p in [os.environ.get("PYTHONPATH")] if p])
    _cache_bytecode(selected, env)
    running = []  # (cases, work directory, process, stdout file, stderr file)
    try:
        for group in groups(selected):
            # A directory of its own (counts may run side by side on one machine), whose
            # name is always as long: the only part of the counted process that differs
            # between runs.
            work = tempfile.mkdtemp(prefix="suite-callgrind-")
            # valgrind's output goes to files, not pipes: with several processes, a full
            # pipe nobody reads would stall one of them.  Closed in the finally below.
            out, err = tempfile.TemporaryFile("w+"), tempfile.TemporaryFile("w+")  # noqa: SIM115
            running.append((group, work, None, out, err))
            command = [valgrind, "--tool=callgrind", f"--toggle-collect={_REGION}",
                       f"--dump-after={_REGION}", "--dump-instr=yes",
                       "--callgrind-out-file=callgrind.out",
                       sys.executable, os.path.abspath(__file__), "--drive",
                       json.dumps(group)]
            proc = subprocess.Popen(command, env=env, cwd=work, stdout=out, stderr=err,
                                    stdin=subprocess.DEVNULL, text=True)
            running[-1] = (group, work, proc, out, err)
        counts = {}
        disassembly = _mix.Disassembly()
        for group, work, proc, out, err in running:
            returncode = proc.wait()
            if returncode != 0:
                out.seek(0)
                err.seek(0)
                raise RuntimeError(f"callgrind exited with status {returncode}:\n"
                                   f"{out.read()[-4000:]}\n{err.read()[-4000:]}")
            parts = [os.path.join(work, f"callgrind.out.{i}") for i in range(1, len(group) + 1)]
            missing = [p for p in parts if not os.path.exists(p)]
            extra = os.path.join(work, f"callgrind.out.{len(group) + 1}")
            if missing or os.path.exists(extra):
                raise RuntimeError(f"expected {len(group)} callgrind profile parts in {work}, "
                                   f"got {sorted(os.listdir(work))}")
            counts.update((case_key(*case), read_part(part, package_dir, detail, disassembly))
                          for case, part in zip(group, parts))
        return {case_key(*case): counts[case_key(*case)] for case in selected}
    finally:
        for _, work, proc, out, err in running:
            if proc is not None and proc.poll() is None:  # another group failed first
                proc.kill()
                proc.wait()
            out.close()
            err.close()
            shutil.rmtree(work, ignore_errors=True)


#: Environment variable naming a directory where the count asv makes of each commit
#: (``record_count``) also writes where that commit's instructions went, for
#: ``explain.py``: ``<directory>/<commit>.json``.  ``.ci/gate`` sets it.
RECORD_ENV = "SUITE_COUNT_RECORD"


def record_path(commit=None):
    """Where ``record_count`` writes the record of ``commit`` (asv's ``ASV_COMMIT`` by
    default); ``None`` when ``RECORD_ENV`` or the commit is not set."""
    directory = os.environ.get(RECORD_ENV)
    commit = commit or os.environ.get("ASV_COMMIT")
    if not directory or not commit:
        return None
    return os.path.join(directory, f"{commit}.json")


def record_count():
    """``count()`` of every case, as asv's ``setup_cache`` makes it once per build.

    When ``record_path()`` is set, the same count also says where the instructions went
    (``count(detail=True)``), written there as JSON ``{"commit": ..., "cases": {key:
    ...}}``; an older record of the commit is removed first, so a failed count leaves
    none.  The parse of the detail adds seconds to minutes of counting.

    Returns
    -------
    dict
        ``case_key(...)`` -> ``{"kernel": ..., "inclusive": ...}``.
    """
    path = record_path()
    if path is None:
        return count()
    if os.path.exists(path):
        os.remove(path)
    counts = count(detail=True)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path + ".part", "w") as f:
        json.dump({"commit": os.path.basename(path)[:-len(".json")], "cases": counts}, f)
    os.replace(path + ".part", path)
    return {key: {"kernel": value["kernel"], "inclusive": value["inclusive"]}
            for key, value in counts.items()}


_INPUTS = {}  # (function, workload, dtype) -> the inputs, made once per counting process


def _aligned(a):
    """A copy of array ``a`` starting on a 64-byte boundary.

    Vectorised loops peel a number of iterations that depends on where their data starts;
    placed wherever the allocator puts them, the same inputs would cost a kernel a few
    instructions more in one process than in another.
    """
    import numpy as np
    raw = np.empty(a.nbytes + 64, np.uint8)
    start = -raw.ctypes.data % 64
    out = raw[start:start + a.nbytes].view(a.dtype).reshape(a.shape)
    out[...] = a
    return out


def _inputs(make, workload, dtype):
    key = (make.__name__, workload, dtype)
    if key not in _INPUTS:
        made = make(WORKLOADS[workload], dtype)
        if make is inputs:
            x, banks = made
            made = _aligned(x), [(_aligned(w), _aligned(b)) for w, b in banks]
        else:
            made = [_aligned(m) for m in made]
        _INPUTS[key] = made
    return _INPUTS[key]


def _calls(case, small=False):
    """A function making the case's calls; with ``small``, on a corner of each input.

    The corner is the first 8 channels of each filter bank (of each map, for ``pool``)
    and, for ``feature_map`` and ``conv_pool``, the first rows of the sentence, 3 more
    than the tallest filter (so that every pooling method has its positions): the same
    dtype and the same Python and C code paths on a few percent of the work.
    """
    import suite

    kind, workload, name, dtype = case[:4]
    if kind == "model":
        if ("model", dtype) not in _INPUTS:
            _INPUTS["model", dtype] = intent_model(dtype)
        model = _INPUTS["model", dtype]
        tokens, lengths = intent_tokens(workload)
        if small:
            tokens, lengths = tokens[:, :6], lengths.clip(max=6)

        def calls():
            model.logits(tokens, lengths, n_threads=1)
        return calls
    if kind == "pool":
        fmaps = [m[:, :8] if small else m for m in _inputs(maps, workload, dtype)]
        kwargs = POOL_ARGS.get(name, {})

        def calls():
            for fmap in fmaps:
                suite.pool(fmap, name, **kwargs)
        return calls
    x, banks = _inputs(inputs, workload, dtype)
    if small:
        x = x[:, :max(weights.shape[1] for weights, _ in banks) + 3]
        banks = [(weights[:8], bias[:8]) for weights, bias in banks]
    if kind == "feature_map":
        def calls():
            for weights, bias in banks:
                suite.feature_map(x, weights, bias, variant=name, n_threads=1)
        return calls
    activation, method = case[4:]
    kwargs = POOL_ARGS.get(method, {})

    def calls():
        for weights, bias in banks:
            suite.conv_pool(x, weights, bias, variant=name, n_threads=1,
                            activation=activation, method=method, **kwargs)
    return calls


def _cache_bytecode(selected, env):
    """Run the driver on ``selected`` once without valgrind, so that every module it
    imports has its bytecode in ``__pycache__`` before anything is counted.

    A module compiled from source in one counting process and read from its cache in the
    next leaves the heap laid out differently, and the Python layer's inclusive count
    moved by up to 1.4% between two counts of one build in a fresh clone.

    Raises
    ------
    RuntimeError
        When the driver fails.
    """
    with tempfile.TemporaryDirectory(prefix="suite-callgrind-") as work:
        proc = subprocess.run([sys.executable, os.path.abspath(__file__), "--drive",
                               json.dumps(selected)], env=env, cwd=work,
                              stdin=subprocess.DEVNULL, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"the counting driver exited with status {proc.returncode} "
                           f"outside valgrind:\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}")


def _drive(selected):
    """Run under callgrind: each case once inside the counted region, in order."""
    from suite._callgrind import counted

    # No cyclic garbage collection: when one runs depends on every allocation made since
    # the last, so it would land in some counted call of one build and not of another.
    # The calls make no reference cycles; their objects go by reference counting.
    gc.collect()
    gc.disable()
    for case in selected:
        # Uncounted first, on a corner of the inputs: what happens once per process (the
        # CPU dispatch, lazy imports, BLAS buffers) or once per code object and call site
        # (the interpreter's specialisation of the Python layer) is not the call's cost.
        warm = _calls(case, small=True)
        for _ in range(WARMUP_CALLS):
            warm()
        counted(_calls(case))


def spread(runs, workloads=COUNTED_WORKLOADS):
    """Count ``runs`` times, each in a fresh process; per case the largest over smallest.

    Only the cases of ``workloads`` are counted.

    Returns
    -------
    dict
        ``{"kernel": {key: ratio}, "inclusive": {key: ratio}, "max": {...}, "runs": [...],
        "seconds": [...]}``: the largest over smallest count of each case, the largest of
        those, each run's counts and its wall-clock and CPU seconds.
    """
    import resource
    import time

    results, seconds = [], []
    for _ in range(runs):
        start = time.perf_counter()
        cpu = resource.getrusage(resource.RUSAGE_CHILDREN)
        results.append(count([case for case in cases() if case[1] in workloads]))
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        seconds.append({"wall": time.perf_counter() - start,
                        "cpu": after.ru_utime + after.ru_stime - cpu.ru_utime - cpu.ru_stime})
    out = {"runs": results, "seconds": seconds}
    for which in ("kernel", "inclusive"):
        out[which] = {key: max(r[key][which] for r in results) /
                      min(r[key][which] for r in results) for key in results[0]}
    out["max"] = {which: max(out[which].values()) for which in ("kernel", "inclusive")}
    return out


def mix_cases(workloads=()):
    """The cases ``--mix`` counts: those of ``workloads`` (all of ``cases()`` by default).

    A workload is one of ``COUNTED_WORKLOADS`` or of ``COUNTED_MODEL_CASES``.

    Raises
    ------
    ValueError
        Naming a workload that is neither.
    """
    known = COUNTED_WORKLOADS + COUNTED_MODEL_CASES
    unknown = [w for w in workloads if w not in known]
    if unknown:
        raise ValueError(f"counting.py --mix: unknown workload {unknown[0]!r}; the counted "
                         f"ones are {', '.join(known)}")
    return [case for case in cases() if not workloads or case[1] in workloads]


def print_mix(workloads=()):
    """Count the cases of ``workloads`` and print each kernel function's instruction mix.

    The mix of one build, the one on the path (``explain.format_mix``), as a Markdown
    table: per kernel function and dtype, its executed instructions, its floating-point
    instructions by kind (packed 512, 256, 128-bit, scalar), the packed share and the
    floating-point operations per instruction.
    """
    if __package__:
        from . import explain
    else:
        from benchmarks import explain
    counts = count(mix_cases(workloads), detail=True)
    print(explain.format_mix(explain.mix_table({"cases": counts})))


if __name__ == "__main__":
    if sys.argv[1:2] == ["--drive"]:
        _drive(json.loads(sys.argv[2]))
    elif sys.argv[1:2] == ["--mix"]:
        try:
            mix_cases(sys.argv[2:])
        except ValueError as e:
            sys.exit(str(e))
        reason = unavailable()
        if reason is not None:
            sys.exit(f"counting.py --mix: {reason}")
        print_mix(sys.argv[2:])
    elif sys.argv[1:2] == ["--spread"]:
        print(json.dumps(spread(int(sys.argv[2]), sys.argv[3:] or COUNTED_WORKLOADS), indent=1))
    else:
        print(json.dumps(count(), indent=1))
