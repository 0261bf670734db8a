"""The verdict of `smoke --bench`: steady-state frames per second from per-stage timings, against the
video's fps and the maintainers' figure, and the setting that would change it. Pure logic over recorded
timings, so a GPU profile can be judged on a machine without one."""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from typing import Any

from envdoctor import datafiles

# The per-frame loop of MuseTalk's realtime script: the avatar is prepared once, apart.
REALTIME_STAGES = ("whisper", "unet", "vae_decode", "blend")
NETWORK_STAGES = ("unet", "vae_decode")


@dataclass(frozen=True)
class Stage:
    name: str
    warmup_ms: float
    frame_ms: tuple[float, ...]  # steady-state frames, warm-up excluded
    peak_ram_mb: float
    peak_gpu_mb: float | None

    @property
    def median_ms(self) -> float:
        return statistics.median(self.frame_ms)

    @property
    def spread_ms(self) -> float:
        return max(self.frame_ms) - min(self.frame_ms)


@dataclass(frozen=True)
class Run:
    device: str  # "cpu" or "cuda"
    fp16: bool
    batch_size: int
    video_fps: float
    cpu_threads: int
    cpu_cores: int
    cuda_present: bool  # a GPU the machine has, whether or not torch can use it
    stages: tuple[Stage, ...]
    wall_ms: tuple[float, ...]  # measured wall time of the same steady-state frames
    # The avatar, prepared once before the loop (face detection and landmarks, VAE encode, mask): apart.
    prepare: tuple[Stage, ...] = ()
    notes: tuple[str, ...] = ()

    def stage(self, name: str) -> Stage:
        return next(s for s in self.stages if s.name == name)

    @property
    def frame_ms(self) -> float:
        return sum(self.stage(n).median_ms for n in REALTIME_STAGES)

    @property
    def fps(self) -> float:
        return 1000.0 / self.frame_ms

    @property
    def unclaimed_ms(self) -> float:
        return max(0.0, statistics.median(self.wall_ms) - self.frame_ms)

    @property
    def coverage(self) -> float:
        wall = statistics.median(self.wall_ms)
        return min(1.0, self.frame_ms / wall) if wall > 0 else 0.0


def _stage(s: dict[str, Any]) -> Stage:
    return Stage(
        name=s["name"],
        warmup_ms=float(s["warmup_ms"]),
        frame_ms=tuple(float(x) for x in s["frame_ms"]),
        peak_ram_mb=float(s["peak_ram_mb"]),
        peak_gpu_mb=None if s.get("peak_gpu_mb") is None else float(s["peak_gpu_mb"]),
    )


def run_from_json(doc: dict[str, Any]) -> Run:
    """A Run from the probe's (or a recorded profile's) JSON."""
    stages = tuple(_stage(s) for s in doc["stages"])
    return Run(
        device=doc["device"],
        fp16=bool(doc["fp16"]),
        batch_size=int(doc["batch_size"]),
        video_fps=float(doc["video_fps"]),
        cpu_threads=int(doc["cpu_threads"]),
        cpu_cores=int(doc["cpu_cores"]),
        cuda_present=bool(doc["cuda_present"]),
        stages=stages,
        wall_ms=tuple(float(x) for x in doc["wall_ms"]),
        prepare=tuple(_stage(s) for s in doc.get("prepare", ())),
        notes=tuple(str(n) for n in doc.get("notes", ())),
    )


@dataclass(frozen=True)
class RealTime:
    fps: float
    target_fps: float
    margin: float  # fps / target, >= 1


@dataclass(frozen=True)
class NotRealTime:
    fps: float
    target_fps: float
    short_by: float  # target / fps, > 1: how many times too slow


Pace = RealTime | NotRealTime


def pace(fps: float, target: float) -> Pace:
    if fps >= target:
        return RealTime(fps, target, fps / target)
    return NotRealTime(fps, target, target / fps)


@dataclass(frozen=True)
class UseFp16:
    flag: str


@dataclass(frozen=True)
class TryBatchSize:
    network_share: float  # share of a frame spent in the UNet and VAE decode


@dataclass(frozen=True)
class GpuUnused:
    """The machine has a GPU but the run was on the CPU: torch cannot use it."""


@dataclass(frozen=True)
class MoreThreads:
    threads: int
    cores: int


Advice = UseFp16 | TryBatchSize | GpuUnused | MoreThreads


@dataclass(frozen=True)
class Verdict:
    fps: float
    video: Pace
    maintainers: Pace  # against their figure, labelled as theirs
    maintainers_device: str
    coverage: float
    coverage_ok: bool
    unclaimed_ms: float
    advice: tuple[Advice, ...]


def advise(run: Run) -> tuple[Advice, ...]:
    facts = datafiles.load("bench.toml")["advice"]
    out: list[Advice] = []
    if run.device == "cpu" and run.cuda_present:
        out.append(GpuUnused())
    if run.device == "cuda" and not run.fp16:
        out.append(UseFp16(str(facts["fp16_flag"])))
    share = sum(run.stage(n).median_ms for n in NETWORK_STAGES) / run.frame_ms
    if share > float(facts["network_share"]):
        out.append(TryBatchSize(share))
    if run.device == "cpu" and run.cpu_threads < float(facts["threads_share"]) * run.cpu_cores:
        out.append(MoreThreads(run.cpu_threads, run.cpu_cores))
    return tuple(out)


def verdict(run: Run) -> Verdict:
    facts = datafiles.load("bench.toml")
    theirs = facts["maintainers"]
    return Verdict(
        fps=run.fps,
        video=pace(run.fps, run.video_fps),
        maintainers=pace(run.fps, float(theirs["fps"])),
        maintainers_device=str(theirs["device"]),
        coverage=run.coverage,
        coverage_ok=run.coverage >= float(facts["coverage"]["minimum"]),
        unclaimed_ms=run.unclaimed_ms,
        advice=advise(run),
    )
