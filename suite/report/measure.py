"""The measurements of ``python -m suite run``: every variant against the references.

For each selected workload and dtype the report first checks every variant's output
against ``suite.reference`` (a wrong kernel is marked FAILED and is not timed), then times
the variants that passed together with ``scipy.signal.correlate2d`` (and
``torch.nn.functional.conv1d`` when PyTorch is importable), sampled in turn so that their
ratios are fair on a loaded machine.  The single-thread GEMM peak measured in the same run
puts each GFLOP/s figure in proportion.
"""
from __future__ import annotations

import dataclasses
import json
import statistics
import sys
import time
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional

import numpy as np

import suite
from suite import reference, timing
from suite.registry import CONV_POOL, DTYPES, FEATURE_MAP, POOL
from suite.report.environment import environment
from suite.report.peers import (onnx_text_cnn, onnxruntime_session, torch_calls, torch_or_none,
                                torch_text_cnn)
from suite.workloads import INTENT, WORKLOADS, Workload, pool_kwargs

__all__ = ["Row", "Settings", "Report", "run", "write_json"]

# The layer of Kim 2014, used for the fused kernel: ReLU, then max-over-time pooling.
LAYER = {"activation": "relu", "method": "max"}
# Threads for the rows of the threaded variants (BLAS stays on one thread).
THREADS = 2
# correlate2d and the loop kernels are timed on at most this many sentences of a batch
# in the reference role; see ``suite.timing.sentence_sample``.
REFERENCE_SENTENCES = 8


@dataclass
class Settings:
    """What to run and how long to sample.

    Attributes
    ----------
    workloads, variants, dtypes : list of str
        The selection; variants cover feature-map and fused variants and pooling methods.
    repeat : int
        Samples per timing (the median is reported).
    min_time : float
        Minimum seconds per sample.
    gemm_size : int
        Side of the square matrices of the GEMM peak.
    command : str, optional
        The command line that asked for the run (``python -m suite run ...``), recorded
        in the JSON so that a table made from it can say how its figures were made;
        None when the run was started from Python.
    """

    workloads: List[str] = field(default_factory=lambda: list(WORKLOADS) + [INTENT.name])
    variants: List[str] = field(default_factory=lambda: sorted(
        set(FEATURE_MAP) | set(CONV_POOL) | set(POOL)))
    dtypes: List[str] = field(default_factory=lambda: list(DTYPES))
    repeat: int = 5
    min_time: float = 0.02
    gemm_size: int = 1024
    command: Optional[str] = None

    @classmethod
    def quick(cls, **kwargs) -> "Settings":
        """One sample per timing and a smaller GEMM: a check that runs in well under a minute."""
        return cls(repeat=1, min_time=0.005, gemm_size=512, **kwargs)


@dataclass
class Row:
    """One line of a report table.

    ``seconds`` is the median time of the whole workload (one call per filter bank);
    ``gflops`` is ``flops / seconds / 1e9``; the speedups are the baseline's median time
    over this row's, both measured in the same run.  Figures are None when they do not
    apply or the check failed.
    """

    section: str
    workload: str
    variant: str
    dtype: str
    threads: int
    status: str
    flops: Optional[int] = None
    seconds: Optional[float] = None
    samples: List[float] = field(default_factory=list)
    gflops: Optional[float] = None
    peak_percent: Optional[float] = None
    p99: Optional[float] = None
    speedups: Dict[str, float] = field(default_factory=dict)
    error: Optional[str] = None


@dataclass
class Report:
    """Everything one run measured."""

    settings: Settings
    gemm_gflops: Dict[str, float]
    rows: List[Row]
    environment: Dict[str, object]

    def to_dict(self) -> dict:
        return {"settings": dataclasses.asdict(self.settings),
                "gemm_gflops": self.gemm_gflops,
                "environment": self.environment,
                "rows": [dataclasses.asdict(r) for r in self.rows]}


# -- checks ------------------------------------------------------------------------------

def _check(fn: Callable[[], list], want: list, dtype: str):
    """The output of ``fn`` against ``want``: ``(status, why it failed, seconds of the call)``.

    The call is timed so that a slow kernel's check can double as its first sample.
    """
    try:
        start = time.perf_counter()
        got = fn()
        seconds = time.perf_counter() - start
    except Exception as exc:  # a kernel that raises is as wrong as one that miscomputes
        return "FAILED", f"{type(exc).__name__}: {exc}", None
    if len(got) == len(want) and all(reference.close(g, w, dtype) for g, w in zip(got, want)):
        return "passed", None, seconds
    return "FAILED", "output differs from the reference", None


# -- the run -----------------------------------------------------------------------------

def _plan(settings: Settings):
    """The (workload, dtype) groups of the kernels to run."""
    return [(WORKLOADS[w], dt) for w in settings.workloads if w in WORKLOADS
            for dt in settings.dtypes]


def _onnxruntime():
    try:
        import onnx  # noqa: F401
        import onnxruntime  # noqa: F401
    except ImportError:
        return False
    return True


#: Consecutive timed calls of one contender in ``_per_call``, after one untimed call.
CALLS_PER_TURN = 10


def _per_call(fns: Dict[str, Callable], rounds: int) -> Dict[str, List[float]]:
    """Seconds of ``rounds`` single calls of each function, taken in turns.

    Latency is about single calls: no loop of calls is averaged, so the 99th
    percentile sees the slow ones.  A turn is ``CALLS_PER_TURN`` consecutive calls of
    one function, after one that is not timed, and the functions take turns, the order
    alternating.  A server makes the same call again and again: a call timed right after
    another contender's would pay for what that one did to the caches (the weights a
    thread of the two-thread split keeps in its core's L2 are evicted by a one-thread
    call, which in turn finds half the weights left in its L2).
    """
    for fn in fns.values():   # warm up
        fn()
    times: Dict[str, List[float]] = {name: [] for name in fns}
    names = list(fns)
    turns = -(-rounds // CALLS_PER_TURN)
    for i in range(turns):
        for name in (names if i % 2 == 0 else names[::-1]):
            fn = fns[name]
            fn()
            for _ in range(min(CALLS_PER_TURN, rounds - i * CALLS_PER_TURN)):
                start = time.perf_counter()
                fn()
                times[name].append(time.perf_counter() - start)
    return times


#: The name under which TextCNN on one utterance split over two threads is timed; its
#: row is TextCNN's (variant ``"suite"``, 2 threads), ``speedups["suite"]`` its speed
#: over one thread's.
SPLIT = "suite-2-threads"


def _model_group(dtype: str, settings: Settings, torch) -> List[Row]:
    """The seed's classifier (``suite.TextCNN``) against PyTorch eager and ONNX Runtime.

    Per case: every contender is checked against ``suite.reference.text_cnn`` on the
    sentences it computes alike (ONNX Runtime and PyTorch compute the padding of a batch,
    so they are checked on the utterances), then single calls are timed in turns
    (``_per_call``).
    """
    import tempfile

    model = INTENT.model(dtype)
    rows = []
    onnx_session = None
    if dtype == "float32" and _onnxruntime():
        with tempfile.TemporaryDirectory() as tmp:
            onnx_session = onnxruntime_session(onnx_text_cnn(model, f"{tmp}/intent.onnx"))
    torch_net = torch_text_cnn(torch, model) if torch is not None else None
    rounds = 30 if settings.repeat == 1 else 300
    for case, (batch, _, _) in INTENT.cases.items():
        tokens, lengths = INTENT.tokens(case)
        checked = min(batch, 4)
        _, want = reference.text_cnn(model.embeddings, model.filters, model.classifier,
                                     tokens[:checked], lengths[:checked],
                                     columns=model.columns, activation=model.activation)
        # Each call binds this case's inputs (a default argument): the closures are timed
        # before the next case, but must not depend on that.
        contenders = {"suite": (
            lambda t=tokens, L=lengths: model.logits(t, L, n_threads=1),
            lambda t=tokens[:checked], L=lengths[:checked]: model.logits(t, L))}
        if torch_net is not None:
            tt = torch.from_numpy(tokens)
            contenders["torch"] = (lambda t=tt: torch_net(t),
                                   lambda t=tt[:checked]: torch_net(t).numpy())
        if onnx_session is not None:
            contenders["onnxruntime"] = (
                lambda t=tokens: onnx_session.run(None, {"tokens": t}),
                lambda t=tokens[:checked]: onnx_session.run(None, {"tokens": t})[0])
        if batch == 1:
            # One utterance split over two threads (filter blocks per thread).
            contenders[SPLIT] = (
                lambda t=tokens, L=lengths: model.logits(t, L, n_threads=2),
                lambda t=tokens, L=lengths: model.logits(t, L, n_threads=2))
        calls = {}
        for name, (call, check) in contenders.items():
            status, error = "passed", None
            if name in ("suite", SPLIT) or batch == 1:
                status, error, _ = _check(lambda c=check: [c()], [want], dtype)
            rows.append(Row("model", f"{INTENT.name}/{case}", name, dtype,
                            2 if name == SPLIT else 1, status, flops=INTENT.flops(lengths),
                            error=error))
            if status == "passed":
                calls[name] = call
        with timing.single_threaded():
            if torch is not None:
                torch_threads = torch.get_num_threads()
                torch.set_num_threads(1)
            try:
                times = _per_call(calls, rounds)
            finally:
                if torch is not None:
                    torch.set_num_threads(torch_threads)
        for row in rows[-len(contenders):]:
            if row.variant not in times:
                continue
            row.samples = times[row.variant]
            row.seconds = statistics.median(row.samples)
            row.p99 = float(np.percentile(row.samples, 99))
            row.gflops = row.flops / row.seconds / 1e9
            for other in times:
                if other != row.variant and other not in ("suite", SPLIT) and \
                        row.variant in ("suite", SPLIT):
                    row.speedups[other] = timing.speedup(times[other], row.samples)
            if row.variant == SPLIT and "suite" in times:
                row.speedups["suite"] = timing.speedup(times["suite"], row.samples)
            if row.variant == SPLIT:  # TextCNN's own row, on two threads
                row.variant = "suite"
    return rows


def _conv_group(wl: Workload, dtype: str, settings: Settings, torch) -> List[Row]:
    """Check, then time together: every selected feature-map and fused variant + baselines."""
    x, banks = wl.inputs(dtype)
    x64 = x.astype(np.float64)
    want_maps = [reference.feature_map(x64, w.astype(np.float64), b.astype(np.float64))
                 for w, b in banks]
    want_pooled = [reference.pool(reference.activate(m, LAYER["activation"]), LAYER["method"])
                   for m in want_maps]
    threads = [1] + ([THREADS] if wl.batch > 1 else [])
    rows: List[Row] = []
    contenders: Dict[str, Callable] = {}
    checked: Dict[str, float] = {}
    for kernel, registry, fn, want, extra in (
            ("feature_map", FEATURE_MAP, suite.feature_map, want_maps, {}),
            ("conv_pool", CONV_POOL, suite.conv_pool, want_pooled, LAYER)):
        for name, variant in registry.items():
            if name not in settings.variants:
                continue
            for n in threads:
                if n > 1 and not variant.threads:
                    continue
                call = timing.workload_calls(fn, x, banks, variant=name, n_threads=n, **extra)
                with timing.single_threaded():
                    status, error, seconds = _check(call, want, dtype)
                row = Row(kernel, wl.name, name, dtype, n, status, flops=wl.flops(), error=error)
                rows.append(row)
                if status == "passed":
                    contenders[f"{kernel}/{name}/{n}"] = call
                    checked[f"{kernel}/{name}/{n}"] = seconds
    sample, scale = timing.sentence_sample(x, REFERENCE_SENTENCES)
    baselines = {"correlate2d": (timing.workload_calls(reference.feature_map, sample, banks),
                                 scale)}
    if wl.batch == 1:  # fftconvolve broadcasts a batch against a bank: far too slow beyond 1
        baselines["fftconvolve"] = (timing.workload_calls(reference.feature_map_fft, x, banks),
                                    1.0)
    if torch is not None:
        baselines["torch"] = (torch_calls(torch, x, banks), 1.0)
    for name, (call, _) in baselines.items():
        contenders[f"baseline/{name}/1"] = call
    with timing.single_threaded():
        if torch is not None:
            torch_threads = torch.get_num_threads()
            torch.set_num_threads(1)
        try:
            times = timing.interleaved(contenders, settings.repeat, settings.min_time,
                                       first=checked)
        finally:
            if torch is not None:
                torch.set_num_threads(torch_threads)
    base_rows = [Row("baseline", wl.name, name, dtype, 1, "reference", flops=wl.flops())
                 for name in baselines]
    for row, (name, (_, scale)) in zip(base_rows, baselines.items()):
        row.samples = [t * scale for t in times[f"baseline/{name}/1"]]
    for row in rows:
        if row.status == "passed":
            row.samples = times[f"{row.section}/{row.variant}/{row.threads}"]
    rows += base_rows
    timed = {}
    for row in rows:
        if row.samples:
            row.seconds = statistics.median(row.samples)
            row.gflops = row.flops / row.seconds / 1e9
            timed[(row.section, row.variant, row.threads)] = row.samples
    for row in rows:
        if row.seconds is None:
            continue
        for name in baselines:
            if row.section != "baseline" or row.variant != name:
                row.speedups[name] = timing.speedup(timed["baseline", name, 1], row.samples)
        # The Cython kernel against the hand-vectorised C one it was written to match.
        if row.variant == "tiles" and (row.section, "simd", row.threads) in timed:
            row.speedups["simd"] = timing.speedup(timed[row.section, "simd", row.threads],
                                                  row.samples)
        if row.section == "conv_pool" and ("feature_map", row.variant, row.threads) in timed:
            row.speedups["feature_map"] = timing.speedup(
                timed["feature_map", row.variant, row.threads], row.samples)
    return rows


def _pool_group(wl: Workload, dtype: str, settings: Settings) -> List[Row]:
    """Every selected pooling method against its NumPy reference, on the maps of ``wl``."""
    maps = wl.maps(dtype)
    rows = []
    contenders = {}
    for method in POOL:
        if method not in settings.variants:
            continue
        kwargs = pool_kwargs(method)
        call = lambda m=method, kw=kwargs: [suite.pool(f, m, **kw) for f in maps]  # noqa: E731
        want = [reference.pool(f.astype(np.float64), method, **kwargs) for f in maps]
        status, error, _ = _check(call, want, dtype)
        rows.append(Row("pool", wl.name, method, dtype, 1, status, error=error))
        if status == "passed":
            contenders[method] = call
            contenders["numpy/" + method] = \
                lambda m=method, kw=kwargs: [reference.pool(f, m, **kw) for f in maps]
    if not contenders:
        return rows
    with timing.single_threaded():
        times = timing.interleaved(contenders, settings.repeat, settings.min_time)
    for row in rows:
        if row.status == "passed":
            row.samples = times[row.variant]
            row.seconds = statistics.median(row.samples)
            row.speedups["numpy"] = timing.speedup(times["numpy/" + row.variant], row.samples)
    return rows


def _width_group(wl: Workload, dtype: str, settings: Settings) -> List[Row]:
    """The seed kernel against the plain loops for even and odd filter widths.

    The seed splits each filter row between two accumulators only when ``w`` is even;
    ``w = d`` and ``w = d - 1`` show what that split is worth on these shapes.
    """
    rows = []
    for width in sorted({wl.d, wl.d - 1}):
        case = wl.with_width(width)
        x, banks = case.inputs(dtype)
        want = [reference.feature_map(x.astype(np.float64), w.astype(np.float64),
                                      b.astype(np.float64)) for w, b in banks]
        calls = {}
        case_rows = []
        for name in ("loops", "seed"):
            call = timing.workload_calls(suite.feature_map, x, banks, variant=name, n_threads=1)
            status, error, _ = _check(call, want, dtype)
            case_rows.append(Row("width", case.name, name, dtype, 1, status,
                                 flops=case.flops(), error=error))
            if status == "passed":
                calls[name] = call
        with timing.single_threaded():
            times = timing.interleaved(calls, settings.repeat, settings.min_time) if calls else {}
        for row in case_rows:
            if row.variant in times:
                row.samples = times[row.variant]
                row.seconds = statistics.median(row.samples)
                row.gflops = row.flops / row.seconds / 1e9
        if len(times) == 2:
            case_rows[1].speedups["loops"] = timing.speedup(case_rows[0].samples,
                                                            case_rows[1].samples)
        rows += case_rows
    return rows


def run(settings: Settings, progress: bool = True) -> Report:
    """Check and time the selection; see the module docstring.

    Parameters
    ----------
    settings : Settings
        The selection and the sampling.
    progress : bool, optional
        Show a tqdm progress bar on stderr.

    Returns
    -------
    Report
    """
    from tqdm import tqdm

    torch = torch_or_none()
    plan = _plan(settings)
    pool_plan = [(wl, dt) for wl, dt in plan if wl.batch > 1]
    width_plan = [(wl, dt) for wl, dt in plan
                  if wl.batch == 1 and all(w == wl.d for _, _, w in wl.banks)]
    width_wanted = {"loops", "seed"} <= set(settings.variants) & set(FEATURE_MAP)
    model_plan = list(settings.dtypes) if INTENT.name in settings.workloads else []
    steps = (len(plan) + len(pool_plan) + (len(width_plan) if width_wanted else 0)
             + len(model_plan) + 1)
    rows: List[Row] = []
    with tqdm(total=steps, disable=not progress, desc="suite run", unit="step",
              file=sys.stderr) as bar:
        bar.set_postfix_str("GEMM peak")
        peaks = {dt: timing.gemm_gflops(dt, settings.gemm_size, settings.repeat + 2)
                 for dt in settings.dtypes}
        bar.update()
        for wl, dt in plan:
            bar.set_postfix_str(f"{wl.name} {dt}")
            rows += _conv_group(wl, dt, settings, torch)
            bar.update()
        for wl, dt in pool_plan:
            bar.set_postfix_str(f"pool {wl.name} {dt}")
            rows += _pool_group(wl, dt, settings)
            bar.update()
        if width_wanted:
            for wl, dt in width_plan:
                bar.set_postfix_str(f"width {wl.name} {dt}")
                rows += _width_group(wl, dt, settings)
                bar.update()
        for dt in model_plan:
            bar.set_postfix_str(f"{INTENT.name} {dt}")
            rows += _model_group(dt, settings, torch)
            bar.update()
    for row in rows:
        if row.gflops is not None:
            # Against what the threads the row used could reach: one GEMM peak per thread.
            row.peak_percent = 100.0 * row.gflops / (peaks[row.dtype] * row.threads)
    return Report(settings, peaks, rows, environment(torch))


def write_json(report: Report, path: str) -> None:
    """Write every figure of ``report``, with its settings and environment, as JSON."""
    with open(path, "w") as f:
        json.dump(report.to_dict(), f, indent=1, default=str)
