"""Render a `smoke --bench` run: a small table of the stages with the verdict under it, and the same
numbers as a `--json` document. Formatting only: smoke.bench made every decision."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

from envdoctor.document import head
from envdoctor.smoke import bench

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
    return {
        "name": s.name,
        "warmup_ms": s.warmup_ms,
        "median_ms": s.median_ms,
        "spread_ms": s.spread_ms,
        "frame_ms": list(s.frame_ms),
        "peak_ram_mb": s.peak_ram_mb,
        "peak_gpu_mb": s.peak_gpu_mb,
    }


def document(run: bench.Run, v: bench.Verdict) -> dict[str, Any]:
    return {
        **head(SCHEMA),
        "device": run.device,
        "fp16": run.fp16,
        "batch_size": run.batch_size,
        "stages": [_stage(s) for s in run.stages],
        "wall_ms": list(run.wall_ms),
        "prepare": [_stage(s) for s in run.prepare],
        "notes": list(run.notes),
        "unclaimed_ms": v.unclaimed_ms,
        "coverage": v.coverage,
        "coverage_ok": v.coverage_ok,
        "fps": v.fps,
        "video": _pace(v.video),
        "maintainers": {**_pace(v.maintainers), "device": v.maintainers_device, "source": "MuseTalk's maintainers"},
        "advice": [_advice(a) for a in v.advice],
    }


def render(run: bench.Run, v: bench.Verdict, console: Console) -> None:
    table = Table(title=f"smoke --bench ({run.device}, {'fp16' if run.fp16 else 'fp32'}, batch {run.batch_size})")
    for col in ("stage", "warm-up ms", "ms/frame", "spread", "peak RAM MB", "peak GPU MB"):
        table.add_column(col, justify="left" if col == "stage" else "right")
    for s in run.stages:
        gpu = "-" if s.peak_gpu_mb is None else f"{s.peak_gpu_mb:.0f}"
        table.add_row(
            s.name, f"{s.warmup_ms:.1f}", f"{s.median_ms:.1f}", f"±{s.spread_ms / 2:.1f}", f"{s.peak_ram_mb:.0f}", gpu
        )
    table.add_row("(no stage)", "", f"{v.unclaimed_ms:.1f}", "", "", "")
    console.print(table)
    if run.prepare:
        once = ", ".join(f"{s.name} {s.median_ms:.1f} ms" for s in run.prepare)
        console.print(f"avatar preparation, once per avatar frame (not in the loop): {once}")
    console.print(f"named stages: {v.coverage:.0%} of the wall time{'' if v.coverage_ok else ' (below 90%)'}")
    video, theirs = _line(v.video, "the video's"), _line(v.maintainers, "the maintainers'")
    console.print(f"steady state: {v.fps:.2f} fps; {video}")
    console.print(f"{theirs} ({v.maintainers_device}, their figure)")
    for a in v.advice:
        console.print("advice: " + advice_text(a))
    for note in run.notes:
        console.print(f"note: {note}")


def _line(p: bench.Pace, what: str) -> str:
    if isinstance(p, bench.RealTime):
        return f"real time against {what} {p.target_fps:g} fps ({p.margin:.2f}x to spare)"
    return f"not real time against {what} {p.target_fps:g} fps ({p.short_by:.2f}x too slow)"
