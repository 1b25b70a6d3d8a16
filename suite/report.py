"""The report of ``python -m suite run``: every variant against the references, on this machine.

For each selected workload and dtype the report first checks every variant's output
against ``suite.reference`` (a wrong kernel is marked FAILED and is not timed), then times
the variants that passed together with ``scipy.signal.correlate2d`` (and
``torch.nn.functional.conv1d`` when PyTorch is importable), sampled in turn so that their
ratios are fair on a loaded machine.  The single-thread GEMM peak measured in the same run
puts each GFLOP/s figure in proportion.
"""
from __future__ import annotations

import dataclasses
import importlib
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from typing import Callable, Dict, Iterable, List, Optional, Sequence

import numpy as np

import suite
from suite import reference, timing
from suite.registry import CONV_POOL, DTYPES, FEATURE_MAP, POOL
from suite.workloads import WORKLOADS, Workload, pool_kwargs

__all__ = ["Row", "Settings", "Report", "run", "format_table", "write_json", "write_plot"]

# The layer of Kim 2014, used for the fused kernel: ReLU, then max-over-time pooling.
LAYER = {"activation": "relu", "method": "max"}
# Threads for the rows of the threaded variants (BLAS stays on one thread).
THREADS = 2
# correlate2d and the loop kernels are timed on at most this many sentences of a batch
# in the reference role; see ``suite.timing.sentence_sample``.
REFERENCE_SENTENCES = 8
TOLERANCE = {"float64": 1e-9, "float32": 2e-4}


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
    """

    workloads: List[str] = field(default_factory=lambda: list(WORKLOADS))
    variants: List[str] = field(default_factory=lambda: sorted(
        set(FEATURE_MAP) | set(CONV_POOL) | set(POOL)))
    dtypes: List[str] = field(default_factory=lambda: list(DTYPES))
    repeat: int = 5
    min_time: float = 0.02
    gemm_size: int = 1024

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

def _close(got, want, dtype) -> bool:
    got = np.asarray(got, np.float64)
    want = np.asarray(want, np.float64)
    if got.shape != want.shape:
        return False
    scale = max(float(np.max(np.abs(want))), 1.0) if want.size else 1.0
    return bool(np.allclose(got, want, rtol=TOLERANCE[dtype], atol=TOLERANCE[dtype] * scale))


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
    if len(got) == len(want) and all(_close(g, w, dtype) for g, w in zip(got, want)):
        return "passed", None, seconds
    return "FAILED", "output differs from the reference", None


# -- optional PyTorch baseline -------------------------------------------------------------

def _torch():
    try:
        return importlib.import_module("torch")
    except ImportError:
        return None


def _torch_calls(torch, workload: Workload, x: np.ndarray, banks) -> Callable[[], list]:
    """``conv1d`` over (batch, d, n) for full-width banks, ``conv2d`` otherwise.

    Inputs are converted to PyTorch's layout before timing, as a model keeps them.
    """
    f = torch.nn.functional
    calls = []
    for weights, bias in banks:
        tb = torch.from_numpy(bias)
        if weights.shape[2] == workload.d:
            tx = torch.from_numpy(np.ascontiguousarray(x.transpose(0, 2, 1)))
            tw = torch.from_numpy(np.ascontiguousarray(weights.transpose(0, 2, 1)))
            calls.append((f.conv1d, tx, tw, tb))
        else:
            calls.append((f.conv2d, torch.from_numpy(x[:, None]),
                          torch.from_numpy(np.ascontiguousarray(weights[:, None])), tb))

    def run():
        with torch.no_grad():
            return [conv(tx, tw, tb) for conv, tx, tw, tb in calls]
    return run


# -- the run -----------------------------------------------------------------------------

def _plan(settings: Settings):
    """The (workload, dtype) groups to run, for the progress bar's total."""
    return [(WORKLOADS[w], dt) for w in settings.workloads for dt in settings.dtypes]


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
        baselines["torch"] = (_torch_calls(torch, wl, x, banks), 1.0)
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
    medians = {}
    for row in rows:
        if row.samples:
            row.seconds = statistics.median(row.samples)
            row.gflops = row.flops / row.seconds / 1e9
            medians[(row.section, row.variant, row.threads)] = row.seconds
    for row in rows:
        if row.seconds is None:
            continue
        for name in baselines:
            if row.section != "baseline" or row.variant != name:
                row.speedups[name] = medians[("baseline", name, 1)] / row.seconds
        if row.section == "conv_pool" and ("feature_map", row.variant, row.threads) in medians:
            row.speedups["feature_map"] = \
                medians[("feature_map", row.variant, row.threads)] / row.seconds
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
            row.speedups["numpy"] = statistics.median(times["numpy/" + row.variant]) / row.seconds
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
            case_rows[1].speedups["loops"] = case_rows[0].seconds / case_rows[1].seconds
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

    torch = _torch()
    plan = _plan(settings)
    pool_plan = [(wl, dt) for wl, dt in plan if wl.batch > 1]
    width_plan = [(wl, dt) for wl, dt in plan
                  if wl.batch == 1 and all(w == wl.d for _, _, w in wl.banks)]
    width_wanted = {"loops", "seed"} <= set(settings.variants) & set(FEATURE_MAP)
    steps = len(plan) + len(pool_plan) + (len(width_plan) if width_wanted else 0) + 1
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
    for row in rows:
        if row.gflops is not None:
            # Against what the threads the row used could reach: one GEMM peak per thread.
            row.peak_percent = 100.0 * row.gflops / (peaks[row.dtype] * row.threads)
    return Report(settings, peaks, rows, environment(torch))


# -- environment ---------------------------------------------------------------------------

def _version(module: str) -> Optional[str]:
    try:
        from importlib.metadata import version
        return version(module)
    except Exception:
        return None


def _cpu_model() -> Optional[str]:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or None


def _git_commit() -> Optional[dict]:
    here = os.path.dirname(os.path.abspath(__file__))
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True,
                                text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=here, capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    return {"commit": commit, "dirty": bool(dirty.strip())}


def environment(torch=None) -> Dict[str, object]:
    """The machine, library versions, BLAS and OpenMP libraries, and git commit of this run."""
    from threadpoolctl import threadpool_info
    from suite.registry import default_threads
    return {
        "machine": {"platform": platform.platform(), "cpu": _cpu_model(),
                    "cores": default_threads(), "python": platform.python_version()},
        "versions": {"textcnn-suite": suite.__version__, "numpy": np.__version__,
                     "scipy": _version("scipy"), "Cython": _version("Cython"),
                     "threadpoolctl": _version("threadpoolctl"),
                     "torch": None if torch is None else torch.__version__},
        "threadpools": threadpool_info(),
        "git": _git_commit(),
    }


# -- output --------------------------------------------------------------------------------

def _fmt(value: Optional[float], spec: str) -> str:
    return "-" if value is None else format(value, spec)


def format_table(report: Report) -> str:
    """The report as plain-text tables, one per section."""
    out = ["GEMM peak, one thread: " + ", ".join(
        f"{dt} {gf:.1f} GFLOP/s" for dt, gf in report.gemm_gflops.items())
        + " (% peak: of that peak times the row's threads)"]
    conv = [r for r in report.rows if r.section in ("feature_map", "conv_pool", "baseline")]
    if conv:
        baselines = sorted({k for r in conv for k in r.speedups if k != "feature_map"},
                           key=["correlate2d", "fftconvolve", "torch"].index)
        head = (["workload", "kernel", "variant", "dtype", "thr", "check", "median ms",
                 "GFLOP/s", "% peak"] + [f"x {b}" for b in baselines] + ["x feature_map"])
        body = []
        for r in conv:
            body.append([r.workload, r.section, r.variant, r.dtype, str(r.threads), r.status,
                         _fmt(r.seconds and r.seconds * 1e3, ".3f"), _fmt(r.gflops, ".2f"),
                         _fmt(r.peak_percent, ".1f")]
                        + [_fmt(r.speedups.get(b), ".2f") for b in baselines]
                        + [_fmt(r.speedups.get("feature_map"), ".2f")])
        out += ["", "Feature maps and fused conv+pool (x B: B's time / this row's time)",
                _table(head, body)]
    pool = [r for r in report.rows if r.section == "pool"]
    if pool:
        head = ["workload", "method", "dtype", "check", "median ms", "x numpy"]
        body = [[r.workload, r.variant, r.dtype, r.status, _fmt(r.seconds and r.seconds * 1e3,
                 ".3f"), _fmt(r.speedups.get("numpy"), ".2f")] for r in pool]
        out += ["", "Pooling of the batch feature maps against the NumPy reference",
                _table(head, body)]
    width = [r for r in report.rows if r.section == "width"]
    if width:
        head = ["workload", "variant", "dtype", "check", "median ms", "GFLOP/s", "x loops"]
        body = [[r.workload, r.variant, r.dtype, r.status, _fmt(r.seconds and r.seconds * 1e3,
                 ".3f"), _fmt(r.gflops, ".2f"), _fmt(r.speedups.get("loops"), ".2f")]
                for r in width]
        out += ["", "The seed kernel's two-accumulator split: even w = d against odd w = d-1",
                _table(head, body)]
    failed = [r for r in report.rows if r.status == "FAILED"]
    for r in failed:
        out.append(f"FAILED: {r.section} {r.variant} {r.workload} {r.dtype} "
                   f"threads={r.threads}: {r.error}")
    return "\n".join(out)


def _table(head: Sequence[str], body: Iterable[Sequence[str]]) -> str:
    body = list(body)
    widths = [max(len(str(c)) for c in col) for col in zip(head, *body)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(head, widths)),
             "  ".join("-" * w for w in widths)]
    lines += ["  ".join(c.ljust(w) if i < 6 else c.rjust(w)
                        for i, (c, w) in enumerate(zip(row, widths))) for row in body]
    return "\n".join(lines)


def write_json(report: Report, path: str) -> None:
    """Write every figure of ``report``, with its settings and environment, as JSON."""
    with open(path, "w") as f:
        json.dump(report.to_dict(), f, indent=1, default=str)


def write_plot(report: Report, path: str) -> None:
    """A PNG of GFLOP/s per variant per workload, with the GEMM peak of each dtype as a line.

    Needs matplotlib (the ``plot`` extra).
    """
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [r for r in report.rows
            if r.section in ("feature_map", "baseline") and r.gflops is not None]
    workloads = list(dict.fromkeys(r.workload for r in rows))
    dtypes = list(report.gemm_gflops)
    fig, axes = plt.subplots(len(workloads) or 1, 1, squeeze=False,
                             figsize=(10, 3.2 * max(len(workloads), 1)))
    colors = dict(zip(dtypes, ("tab:blue", "tab:orange")))
    for ax, wl in zip(axes[:, 0], workloads):
        labels = list(dict.fromkeys(
            f"{r.variant}" + (f" x{r.threads}" if r.threads > 1 else "")
            for r in rows if r.workload == wl))
        width = 0.8 / max(len(dtypes), 1)
        for i, dt in enumerate(dtypes):
            values = {f"{r.variant}" + (f" x{r.threads}" if r.threads > 1 else ""): r.gflops
                      for r in rows if r.workload == wl and r.dtype == dt}
            xs = [j + i * width for j, lab in enumerate(labels) if lab in values]
            ax.bar(xs, [values[lab] for lab in labels if lab in values], width,
                   label=dt, color=colors.get(dt))
            ax.axhline(report.gemm_gflops[dt], color=colors.get(dt), linestyle="--",
                       linewidth=1, label=f"{dt} GEMM peak")
        ax.set_xticks([j + width * (len(dtypes) - 1) / 2 for j in range(len(labels))])
        ax.set_xticklabels(labels, rotation=20, fontsize=8)
        ax.set_ylabel("GFLOP/s")
        ax.set_title(wl)
        ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
