"""The verdict of `smoke --bench`: steady-state frames per second from per-stage timings, against the
video's fps and the maintainers' figure, whether the passes agree within the machine's noise, and the
setting that would change it. Pure logic over recorded timings, so a GPU profile can be judged on a
machine without one.

The per-frame loop judged is MuseTalk's realtime script's. The offline script (scripts/inference.py) is
reported beside it: the same networks per frame, but its compositing parses the face of every frame."""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from typing import Any

from envdoctor import datafiles
from envdoctor.smoke.bench_agree import Agreement, Spread, agreement, spread

# The per-frame loop of MuseTalk's realtime script: the avatar is prepared once, apart.
REALTIME_STAGES = ("whisper", "unet", "vae_decode", "blend")
NETWORK_STAGES = ("unet", "vae_decode")
# The offline script runs the same networks per frame; `compose` (get_image: face parsing, blending, the PNG
# written per frame) is its own, and its avatar (face detection, VAE encode) is prepared once per input frame.
OFFLINE_SHARED = ("whisper", "unet", "vae_decode")
OFFLINE_STAGES = ("compose",)
OFFLINE_PREPARE = ("face_detect", "vae_encode")


@dataclass(frozen=True)
class Stage:
    name: str
    warmup_ms: float
    # Steady-state ms per frame, one tuple per pass, one figure per frame (a batch's time over its frames).
    passes: tuple[tuple[float, ...], ...]
    peak_ram_mb: float
    peak_gpu_mb: float | None

    @property
    def frame_ms(self) -> tuple[float, ...]:
        return tuple(x for p in self.passes for x in p)

    @property
    def spread(self) -> Spread:
        return spread(self.frame_ms)

    @property
    def median_ms(self) -> float:
        return statistics.median(self.frame_ms)

    @property
    def iqr_ms(self) -> float:
        return self.spread.iqr


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
    # Stages of the offline script measured apart from the loop (see OFFLINE_STAGES).
    offline: tuple[Stage, ...] = ()
    notes: tuple[str, ...] = ()

    def stage(self, name: str) -> Stage:
        return next(s for s in (*self.stages, *self.offline, *self.prepare) if s.name == name)

    def frame_totals(self) -> tuple[tuple[float, ...], ...]:
        """Per pass, each frame's cost summed over the loop's stages (what the fps is made of)."""
        stages = [self.stage(n).passes for n in REALTIME_STAGES]
        return tuple(
            tuple(sum(frame) for frame in zip(*(s[i] for s in stages), strict=True)) for i in range(len(stages[0]))
        )

    @property
    def offline_prepare_ms(self) -> float:
        """The offline script's one-time cost per input frame: face detection and landmarks, VAE encode."""
        return sum(self.stage(n).median_ms for n in OFFLINE_PREPARE)

    @property
    def offline_frame_ms(self) -> float:
        return sum(self.stage(n).median_ms for n in (*OFFLINE_SHARED, *OFFLINE_STAGES))

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
        passes=tuple(tuple(float(x) for x in p) for p in s["passes_ms"]),
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
        offline=tuple(_stage(s) for s in doc.get("offline", ())),
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
class Agreements:
    """Whether groups of frames (the passes of a run, or two runs) agree: the frame's total decides, the
    stages say where a difference lies."""

    frame: Agreement
    stages: tuple[tuple[str, Agreement], ...]


def passes_agree(run: Run) -> Agreements:
    return Agreements(
        agreement(run.frame_totals()),
        tuple((n, agreement(run.stage(n).passes)) for n in REALTIME_STAGES),
    )


def runs_agree(a: Run, b: Run) -> Agreements:
    """Two runs of the bench, each run's steady frames a group."""
    totals = [tuple(x for p in r.frame_totals() for x in p) for r in (a, b)]
    return Agreements(
        agreement(totals),
        tuple((n, agreement([a.stage(n).frame_ms, b.stage(n).frame_ms])) for n in REALTIME_STAGES),
    )


@dataclass(frozen=True)
class Offline:
    """MuseTalk's offline script on the same machine: labelled apart, never the realtime verdict."""

    prepare_ms: float  # once per input frame
    frame_ms: float  # per output frame
    fps: float


@dataclass(frozen=True)
class SpeedVerdict:
    fps: float
    video: Pace
    maintainers: Pace  # against their figure, labelled as theirs
    maintainers_device: str
    coverage: float
    coverage_ok: bool
    unclaimed_ms: float
    passes: Agreements
    offline: Offline | None  # None where the offline stages were not measured
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


def verdict(run: Run) -> SpeedVerdict:
    facts = datafiles.load("bench.toml")
    theirs = facts["maintainers"]
    return SpeedVerdict(
        fps=run.fps,
        video=pace(run.fps, run.video_fps),
        maintainers=pace(run.fps, float(theirs["fps"])),
        maintainers_device=str(theirs["device"]),
        coverage=run.coverage,
        coverage_ok=run.coverage >= float(facts["coverage"]["minimum"]),
        unclaimed_ms=run.unclaimed_ms,
        passes=passes_agree(run),
        offline=_offline(run),
        advice=advise(run),
    )


def _offline(run: Run) -> Offline | None:
    names = {s.name for s in (*run.offline, *run.prepare)}
    if not names.issuperset((*OFFLINE_STAGES, *OFFLINE_PREPARE)):
        return None
    return Offline(run.offline_prepare_ms, run.offline_frame_ms, 1000.0 / run.offline_frame_ms)
