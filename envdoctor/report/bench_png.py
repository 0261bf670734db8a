"""smoke-bench.png beside the smoke report: a horizontal bar per stage of the realtime loop (steady-state
median ms per frame, the interquartile range as its whisker), the time no stage claims, and the offline
script's own step in another colour, drawn with matplotlib as the smoke report's PNG is."""

from __future__ import annotations

from pathlib import Path

from envdoctor.smoke import bench, bench_agree

BENCH_PNG = "smoke-bench.png"


def _agreement(a: bench_agree.Agreement) -> str:
    if isinstance(a, bench_agree.Agree):
        return f"passes agree (gap {a.gap:.1f} <= noise {a.noise:.1f} ms)"
    if isinstance(a, bench_agree.Disagree):
        return f"passes DISAGREE (gap {a.gap:.1f} > noise {a.noise:.1f} ms)"
    return "passes: agreement undetermined"


def write_chart(run: bench.Run, v: bench.SpeedVerdict, out: Path) -> Path:
    """Raises ImportError where matplotlib (envdoctor[verify]) is absent; the caller says so."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    stages = list(run.stages)
    offline = list(run.offline)
    names = [s.name for s in stages] + ["(no stage)"] + [f"{s.name} (offline)" for s in offline]
    ms = [s.median_ms for s in stages] + [v.unclaimed_ms] + [s.median_ms for s in offline]
    spreads = [s.spread for s in (*stages, *offline)]
    low = [sp.median - sp.q1 for sp in spreads]
    high = [sp.q3 - sp.median for sp in spreads]
    low.insert(len(stages), 0.0)
    high.insert(len(stages), 0.0)
    colours = ["tab:blue"] * len(stages) + ["tab:gray"] + ["tab:orange"] * len(offline)
    fig, ax = plt.subplots(figsize=(8, 0.5 * len(names) + 1.5), dpi=100)
    ax.barh(names, ms, xerr=[low, high], color=colours)
    ax.invert_yaxis()
    ax.set_xlabel("ms per frame (steady state, median; whisker: interquartile range)")
    ax.set_title(
        f"realtime loop, {run.device} {'fp16' if run.fp16 else 'fp32'} batch {run.batch_size}: {v.fps:.2f} fps "
        f"(video {v.video.target_fps:g} fps; maintainers' figure {v.maintainers.target_fps:g} fps)\n"
        + _agreement(v.passes.frame),
        fontsize=9,
    )
    fig.tight_layout()
    fig.savefig(out)
    plt.close(fig)
    return out
