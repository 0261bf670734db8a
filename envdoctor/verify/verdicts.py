"""The verifier's vocabulary and thresholds: results as frozen data, apart from the code that measures.

The thresholds come from synthetic clips (docs/smoke.md); they still want calibrating on
real MuseTalk output, which is why every number that decides a verdict is reported beside it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import Enum


class VideoVerdict(str, Enum):
    SYNCED = "SYNCED"
    UNSYNCED = "UNSYNCED"
    STATIC = "STATIC"
    NO_FACE = "NO_FACE"
    NOT_ASSESSED = "NOT_ASSESSED"


class RegionSource(str, Enum):
    """How the measured region was found."""

    FACE = "face"
    """A mouth box in the face the detector found in the output."""
    DIFFERENCE = "difference"
    """Where the output differs from the still input (the region the model generated)."""
    CROP = "crop"
    """The crop box the app saved for each frame."""


@dataclass(frozen=True)
class Thresholds:
    frame_tolerance: int = 2
    """Frames the video may differ from audio seconds x fps."""
    min_face_fraction: float = 0.5
    """Below this share of sampled frames with a face: NO_FACE."""
    static_motion: float = 0.3
    """Median mean-absolute frame difference in the mouth box (grey levels) below which: STATIC."""
    min_peak_r: float = 0.3
    min_confidence: float = 0.15
    max_lag_frames: int = 4
    search_lag_frames: int = 15
    null_shift_seconds: float = 1.5
    """Circular shifts at least this long make the null distribution."""
    wide_search_seconds: float = 2.0
    """How far the offset search reaches, to tell the user how far out of sync a clip is."""
    min_sync_seconds: float = 1.0
    """Shorter clips are not scored for sync (too few mouth movements to correlate)."""


DEFAULT_THRESHOLDS = Thresholds()


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


@dataclass(frozen=True)
class SyncScore:
    peak_r: float
    lag_frames: int
    """Positive: the mouth moves this many frames before the matching sound."""
    confidence: float
    """Peak r minus the median r over the searched lags."""
    null_p95: float | None
    """95th percentile of r at circular shifts >= null_shift_seconds; None when the clip is too short."""
    wide_peak_r: float
    wide_lag_frames: int


@dataclass(frozen=True)
class VideoVerification:
    video: str
    audio: str
    checks: tuple[Check, ...]
    verdict: VideoVerdict
    reason: str
    """One sentence: why this verdict (the numbers that decided it)."""
    fps: float
    frames: int
    expected_frames: float
    audio_seconds: float
    face_fraction: float
    mouth_motion: float
    sync: SyncScore | None
    face_box: tuple[int, int, int, int] | None = None
    """x, y, w, h of the median face box, in the frame's own pixels."""
    region: tuple[int, int, int, int] | None = None
    """x, y, w, h (the frame's own pixels) of the region motion and sync were measured in."""
    region_source: RegionSource | None = None
    sync_required: bool = True
    """False when lip-sync was deliberately not judged (synthetic weights)."""
    analysed_fps: float = 0.0
    """Frames analysed per second of wall time (decode + face + mouth + sync)."""
    envelope: tuple[float, ...] = field(default=(), repr=False)
    mouth_signal: tuple[float, ...] = field(default=(), repr=False)
    sample_frames: tuple[int, ...] = field(default=(), repr=False)

    @property
    def structure_ok(self) -> bool:
        return all(c.ok for c in self.checks)

    @property
    def success(self) -> bool:
        """Structure sound and lips synced; when the caller asked for no sync verdict (synthetic
        weights), the structure alone. A clip too short to score is not a success."""
        if not self.structure_ok:
            return False
        if self.verdict is VideoVerdict.NOT_ASSESSED and not self.sync_required:
            return True
        return self.verdict is VideoVerdict.SYNCED

    def to_dict(self, *, signals: bool = False) -> dict[str, object]:
        d = asdict(self)
        d["verdict"] = self.verdict.value
        d["region_source"] = self.region_source.value if self.region_source else None
        d["structure_ok"] = self.structure_ok
        d["success"] = self.success
        if not signals:
            for key in ("envelope", "mouth_signal", "sample_frames"):
                d.pop(key)
        return d
