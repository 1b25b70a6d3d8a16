"""The report as plain-text tables."""
from __future__ import annotations

from typing import Iterable, Optional, Sequence

from suite.report.measure import Report

__all__ = ["format_table"]


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
                           key=["correlate2d", "fftconvolve", "torch", "simd"].index)
        head = (["workload", "kernel", "variant", "dtype", "thr", "check", "median ms",
                 "GFLOP/s", "% peak"] + [f"x {b}" for b in baselines] + ["x feature_map"])
        body = []
        for r in conv:
            body.append([r.workload, r.section, r.variant, r.dtype, str(r.threads), r.status,
                         _fmt(r.seconds and r.seconds * 1e3, ".3f"), _fmt(r.gflops, ".2f"),
                         _fmt(r.peak_percent, ".1f")]
                        + [_fmt(r.speedups.get(b), ".2f") for b in baselines]
                        + [_fmt(r.speedups.get("feature_map"), ".2f")])
        out += ["", "Feature maps and fused conv+pool (x B: how many times faster than B, the "
                "median of per-round time ratios; x simd: Cython tiles against the C kernel)",
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
    model = [r for r in report.rows if r.section == "model"]
    if model:
        peers = [p for p in ("onnxruntime", "torch") if any(p in r.speedups for r in model)]
        head = (["case", "runtime", "dtype", "check", "p50 us", "p99 us", "sentences/s",
                 "GFLOP/s"] + [f"x {p}" for p in peers])
        body = [[r.workload, r.variant, r.dtype, r.status, _fmt(r.seconds and r.seconds * 1e6,
                 ".1f"), _fmt(r.p99 and r.p99 * 1e6, ".1f"),
                 _fmt(r.seconds and r.flops and _sentences(r) / r.seconds, ".0f"),
                 _fmt(r.gflops, ".2f")] + [_fmt(r.speedups.get(p), ".2f") for p in peers]
                for r in model]
        out += ["", "The seed's classifier (suite.TextCNN), one thread: time per call "
                "(one utterance, or the whole padded batch)", _table(head, body)]
    failed = [r for r in report.rows if r.status == "FAILED"]
    for r in failed:
        out.append(f"FAILED: {r.section} {r.variant} {r.workload} {r.dtype} "
                   f"threads={r.threads}: {r.error}")
    return "\n".join(out)


def _sentences(row) -> int:
    from suite.workloads import INTENT
    return INTENT.cases[row.workload.split("/", 1)[1]][0]


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return cell == "-"
    return True


def _table(head: Sequence[str], body: Iterable[Sequence[str]]) -> str:
    """Columns padded to their widest cell; columns of numbers (or "-") right-aligned."""
    body = list(body)
    columns = list(zip(head, *body))
    widths = [max(len(c) for c in col) for col in columns]
    numeric = [bool(body) and all(_is_number(c) for c in col[1:]) for col in columns]

    def line(cells):
        return "  ".join(c.rjust(w) if right else c.ljust(w)
                         for c, w, right in zip(cells, widths, numeric)).rstrip()

    return "\n".join([line(head), line(["-" * w for w in widths])] + [line(r) for r in body])
