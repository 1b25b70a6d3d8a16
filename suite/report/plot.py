"""The report as a PNG: GFLOP/s per variant and workload against the GEMM peaks."""
from __future__ import annotations

from suite.report.measure import Report

__all__ = ["write_plot"]


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
