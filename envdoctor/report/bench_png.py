"""smoke-bench.png beside the smoke report: a horizontal bar per stage (steady-state ms per frame, the
spread as an error bar) and the time no stage claims, drawn with matplotlib as the smoke report's PNG is."""

from __future__ import annotations

from pathlib import Path

from envdoctor.smoke import bench

BENCH_PNG = "smoke-bench.png"


def write_chart(run: bench.Run, v: bench.Verdict, out: Path) -> Path:
    """Raises ImportError where matplotlib (envdoctor[verify]) is absent; the caller says so."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [s.name for s in run.stages] + ["(no stage)"]
    ms = [s.median_ms for s in run.stages] + [v.unclaimed_ms]
    err = [s.spread_ms / 2 for s in run.stages] + [0.0]
    fig, ax = plt.subplots(figsize=(8, 0.5 * len(names) + 1.5), dpi=100)
    ax.barh(names, ms, xerr=err, color=["tab:blue"] * len(run.stages) + ["tab:gray"])
    ax.invert_yaxis()
    ax.set_xlabel("ms per frame (steady state, median; bar: spread)")
    ax.set_title(
        f"{run.device} {'fp16' if run.fp16 else 'fp32'} batch {run.batch_size}: {v.fps:.2f} fps "
        f"(video {v.video.target_fps:g} fps; maintainers' figure {v.maintainers.target_fps:g} fps)",
        fontsize=9,
    )
    fig.tight_layout()
    fig.savefig(out)
    plt.close(fig)
    return out
