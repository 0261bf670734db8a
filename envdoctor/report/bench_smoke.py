"""Render a `smoke --bench` run: a small table of the stages with the verdict under it, and the same
numbers as a `--json` document. Formatting only: smoke.bench made every decision."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

from envdoctor.document import head
from envdoctor.smoke import bench, bench_agree

SCHEMA = "envdoctor.smoke.bench"


def _pace(p: bench.Pace) -> dict[str, Any]:
    if isinstance(p, bench.RealTime):
        return {"kind": "real_time", "fps": p.fps, "target_fps": p.target_fps, "margin": p.margin}
    return {"kind": "not_real_time", "fps": p.fps, "target_fps": p.target_fps, "short_by": p.short_by}


def _advice(a: bench.Advice) -> dict[str, Any]:
    if isinstance(a, bench.UseFp16):
        return {"kind": "fp16", "flag": a.flag}
    if isinstance(a, bench.TryBatchSize):
        return {"kind": "batch_size", "network_share": a.network_share}
    if isinstance(a, bench.GpuUnused):
        return {"kind": "gpu_unused"}
    return {"kind": "threads", "threads": a.threads, "cores": a.cores}


def advice_text(a: bench.Advice) -> str:
    if isinstance(a, bench.UseFp16):
        return f"the run was fp32 on CUDA: MuseTalk offers {a.flag}: measure with it."
    if isinstance(a, bench.TryBatchSize):
        return f"UNet and VAE decode take {a.network_share:.0%} of a frame: try another --batch_size."
    if isinstance(a, bench.GpuUnused):
        return "this machine has a GPU but torch ran on the CPU: install a torch build that can use it."
    return f"torch used {a.threads} of {a.cores} CPU cores: raise its threads (torch.set_num_threads)."


def _stage(s: bench.Stage) -> dict[str, Any]:
    sp = s.spread
    return {
        "name": s.name,
        "warmup_ms": s.warmup_ms,
        "median_ms": sp.median,
        "q1_ms": sp.q1,
        "q3_ms": sp.q3,
        "iqr_ms": sp.iqr,
        "min_ms": sp.low,
        "max_ms": sp.high,
        "passes_ms": [list(p) for p in s.passes],
        "peak_ram_mb": s.peak_ram_mb,
        "peak_gpu_mb": s.peak_gpu_mb,
    }


def _agreement(a: bench_agree.Agreement) -> dict[str, Any]:
    if isinstance(a, bench_agree.Undetermined):
        return {"kind": "undetermined", "medians_ms": list(a.medians), "reason": a.reason}
    kind = "agree" if isinstance(a, bench_agree.Agree) else "disagree"
    return {"kind": kind, "medians_ms": list(a.medians), "noise_ms": a.noise, "gap_ms": a.gap}


def agreements(a: bench.Agreements) -> dict[str, Any]:
    return {**_agreement(a.frame), "stages": {name: _agreement(x) for name, x in a.stages}}


def agreement_text(a: bench_agree.Agreement, what: str) -> str:
    if isinstance(a, bench_agree.Undetermined):
        return f"{what}: agreement undetermined ({a.reason})"
    medians = ", ".join(f"{m:.1f}" for m in a.medians)
    if isinstance(a, bench_agree.Agree):
        return f"{what} agree: medians {medians} ms/frame, {a.gap:.1f} ms apart, within the noise ({a.noise:.1f} ms)"
    return f"{what} DISAGREE: medians {medians} ms/frame, {a.gap:.1f} ms apart, beyond the noise ({a.noise:.1f} ms)"


def agreements_text(a: bench.Agreements, what: str) -> list[str]:
    """The frame's line, then a line for each stage that does not agree (where the difference lies)."""
    lines = [agreement_text(a.frame, what)]
    for name, x in a.stages:
        if isinstance(x, bench_agree.Disagree):
            lines.append("  " + agreement_text(x, f"{name}:"))
    return lines


def _offline(o: bench.Offline | None) -> dict[str, Any] | None:
    if o is None:
        return None
    return {
        "script": "scripts/inference.py",
        "prepare_ms_per_input_frame": o.prepare_ms,
        "prepare_stages": list(bench.OFFLINE_PREPARE),
        "frame_ms": o.frame_ms,
        "frame_stages": [*bench.OFFLINE_SHARED, *bench.OFFLINE_STAGES],
        "fps": o.fps,
    }


def document(run: bench.Run, v: bench.SpeedVerdict) -> dict[str, Any]:
    return {
        **head(SCHEMA),
        "device": run.device,
        "fp16": run.fp16,
        "batch_size": run.batch_size,
        "stages": [_stage(s) for s in run.stages],
        "wall_ms": list(run.wall_ms),
        "prepare": [_stage(s) for s in run.prepare],
        "offline_stages": [_stage(s) for s in run.offline],
        "offline": _offline(v.offline),
        "passes": agreements(v.passes),
        "loop": "scripts/realtime_inference.py",
        "notes": list(run.notes),
        "unclaimed_ms": v.unclaimed_ms,
        "coverage": v.coverage,
        "coverage_ok": v.coverage_ok,
        "fps": v.fps,
        "video": _pace(v.video),
        "maintainers": {**_pace(v.maintainers), "device": v.maintainers_device, "source": "MuseTalk's maintainers"},
        "advice": [_advice(a) for a in v.advice],
    }


def render(run: bench.Run, v: bench.SpeedVerdict, console: Console) -> None:
    table = Table(
        title=f"smoke --bench ({run.device}, {'fp16' if run.fp16 else 'fp32'}, batch {run.batch_size}): "
        "the realtime loop (scripts/realtime_inference.py)"
    )
    for col in ("stage", "warm-up", "ms/frame", "IQR", "min-max", "RAM MB", "GPU MB"):
        table.add_column(col, justify="left" if col == "stage" else "right")
    for s in run.stages:
        table.add_row(*_row(s))
    table.add_row("(no stage)", "", f"{v.unclaimed_ms:.1f}", "", "", "", "")
    # Not in the loop, so not in its fps: the avatar's one-time preparation, the offline script's own step.
    for label, stages in (("once (avatar)", run.prepare), ("offline only", run.offline)):
        if stages:
            table.add_section()
            table.add_row(f"[dim]{label}[/dim]")
            for s in stages:
                table.add_row(*_row(s))
    console.print(table)
    frames = len(run.stages[0].frame_ms) if run.stages else 0
    console.print(
        f"ms/frame: median of {frames} steady frames over {len(run.wall_ms)} passes; IQR: q1-q3; "
        "noise: the widest IQR within one pass"
    )
    console.print(f"named stages: {v.coverage:.0%} of the wall time{'' if v.coverage_ok else ' (below 90%)'}")
    for line in agreements_text(v.passes, "passes"):
        console.print(line)
    video, theirs = _line(v.video, "the video's"), _line(v.maintainers, "the maintainers'")
    console.print(f"realtime loop, steady state: {v.fps:.2f} fps; {video}")
    console.print(f"{theirs} ({v.maintainers_device}, their figure)")
    if v.offline is not None:
        console.print(_offline_text(run, v.offline))
    for a in v.advice:
        console.print("advice: " + advice_text(a))
    for note in run.notes:
        console.print(f"note: {note}")


def _ms(x: float) -> str:
    return f"{x:.0f}" if x >= 100 else f"{x:.1f}"


def _row(s: bench.Stage) -> tuple[str, ...]:
    sp = s.spread
    gpu = "-" if s.peak_gpu_mb is None else f"{s.peak_gpu_mb:.0f}"
    return (
        s.name,
        _ms(s.warmup_ms),
        f"{sp.median:.1f}",
        f"{_ms(sp.q1)}-{_ms(sp.q3)}",
        f"{_ms(sp.low)}-{_ms(sp.high)}",
        f"{s.peak_ram_mb:.0f}",
        gpu,
    )


def _offline_text(run: bench.Run, o: bench.Offline) -> str:
    own = ", ".join(f"{s.name} {s.median_ms:.1f} ms (IQR {s.spread.q1:.1f}-{s.spread.q3:.1f})" for s in run.offline)
    return (
        f"offline (scripts/inference.py, not the realtime verdict): preparation {o.prepare_ms:.1f} ms per input "
        f"frame once (face detection and landmarks, VAE encode), then {o.frame_ms:.1f} ms per output frame "
        f"({o.fps:.2f} fps): whisper, UNet and VAE decode as in the loop, and its own {own}"
    )


def _line(p: bench.Pace, what: str) -> str:
    if isinstance(p, bench.RealTime):
        return f"real time against {what} {p.target_fps:g} fps ({p.margin:.2f}x to spare)"
    return f"not real time against {what} {p.target_fps:g} fps ({p.short_by:.2f}x too slow)"
