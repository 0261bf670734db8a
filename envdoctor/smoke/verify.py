"""Judge a talking-head video from its pixels and its speech: structure first, then lip-sync.

Runs in envdoctor's own process and needs the optional `verify` extra (numpy, scikit-image).
The idea (lipsync.md): natural mouth opening follows the acoustic envelope, so a mouth-region
signal that correlates with the log-RMS of the speech near lag 0, clearly above what circular
shifts of the same signals give, is lip-sync. No downloaded weights are involved.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

from envdoctor.smoke import media
from envdoctor.smoke.face import Box, detect
from envdoctor.smoke.verdicts import DEFAULT_THRESHOLDS, Check, SyncScore, Thresholds, Verdict, Verification

if TYPE_CHECKING:
    import numpy as np

ANALYSIS_SIZE = 320
"""Frames are analysed with their long side at most this many pixels: plenty for a face box."""
FACE_SAMPLES = 24
"""How many frames, spread over the clip, the face detector looks at."""


class MissingExtra(RuntimeError):
    """The verifier's optional packages are not installed; the message says how to get them."""


def require_extra() -> None:
    missing = []
    for name, dist in (("numpy", "numpy"), ("skimage", "scikit-image")):
        try:
            __import__(name)
        except ImportError:
            missing.append(dist)
    if missing:
        raise MissingExtra(
            f"the verifier needs {', '.join(missing)}, which envdoctor's `verify` extra provides: "
            "pip install 'envdoctor[verify]'"
        )


# --- signals ------------------------------------------------------------------------------------
def speech_envelope(samples: np.ndarray, rate: int, fps: float, frames: int) -> np.ndarray:
    """Log-RMS of the speech over each video frame's time span, z-scored (length `frames`)."""
    import numpy as np

    edges = np.round(np.arange(frames + 1) * rate / fps).astype(np.int64)
    padded = np.zeros(max(int(edges[-1]), len(samples)), dtype=np.float64)
    padded[: len(samples)] = samples
    sq = np.concatenate([[0.0], np.cumsum(padded.astype(np.float64) ** 2)])
    counts = np.maximum(edges[1:] - edges[:-1], 1)
    rms = np.sqrt((sq[edges[1:]] - sq[edges[:-1]]) / counts)
    # A floor 60 dB under the loudest frame keeps digital silence from dominating the log.
    floor = max(float(rms.max()) * 1e-3, 1e-6)
    return _zscore(np.log(np.maximum(rms, floor)))


def _zscore(x: np.ndarray) -> np.ndarray:
    import numpy as np

    x = np.asarray(x, dtype=np.float64)
    sd = x.std()
    return (x - x.mean()) / sd if sd > 1e-12 else np.zeros_like(x)


def find_faces(frames: np.ndarray, samples: int = FACE_SAMPLES) -> tuple[list[int], list[Box | None]]:
    import numpy as np

    n = len(frames)
    idx = sorted(set(np.linspace(0, n - 1, num=min(samples, n)).round().astype(int).tolist()))
    boxes: list[Box | None] = []
    last: Box | None = None
    for i in idx:
        box = detect(frames[i], near=last)
        boxes.append(box)
        last = box or last
    return idx, boxes


def mouth_boxes(n: int, idx: list[int], boxes: list[Box | None], w: int, h: int) -> list[Box]:
    """One mouth box per frame, all of the same size (the median face's), placed by the nearest face."""
    import numpy as np

    found = [(i, b) for i, b in zip(idx, boxes, strict=True) if b is not None]
    fw = int(np.median([b.w for _, b in found]))
    fh = int(np.median([b.h for _, b in found]))
    # Centres smoothed with a running median so a single false detection does not move the box.
    cx = np.array([b.x + b.w / 2 for _, b in found])
    cy = np.array([b.y + b.h / 2 for _, b in found])
    k = 2
    cx = np.array([np.median(cx[max(0, j - k) : j + k + 1]) for j in range(len(cx))])
    cy = np.array([np.median(cy[max(0, j - k) : j + k + 1]) for j in range(len(cy))])
    at = np.array([i for i, _ in found])
    template = Box(0, 0, fw, fh).mouth(10**9, 10**9)
    mw, mh = min(template.w, w), min(template.h, h)
    out = []
    for t in range(n):
        j = int(np.argmin(np.abs(at - t)))
        x0 = int(round(cx[j] - fw / 2)) + template.x
        y0 = int(round(cy[j] - fh / 2)) + template.y
        x0 = min(max(0, x0), w - mw)
        y0 = min(max(0, y0), h - mh)
        out.append(Box(x0, y0, mw, mh))
    return out


def mouth_signals(frames: np.ndarray, boxes: list[Box]) -> tuple[np.ndarray, np.ndarray]:
    """(motion, opening): mean absolute frame difference per frame pair, and the mouth's main mode.

    The opening signal is the first principal component of the mouth crops over time, its sign
    chosen so that it grows as the region darkens (an open mouth shows its dark inside). It does
    not look at the audio, so it cannot be fitted to it.
    """
    import numpy as np

    crops = np.stack([frames[t, b.y : b.y + b.h, b.x : b.x + b.w] for t, b in enumerate(boxes)]).astype(np.float32)
    motion = np.abs(np.diff(crops, axis=0)).mean(axis=(1, 2)) if len(crops) > 1 else np.zeros(0)
    flat = crops.reshape(len(crops), -1)
    flat = flat - flat.mean(axis=0, keepdims=True)
    if not np.any(flat):
        return motion, np.zeros(len(crops))
    # The principal direction from the small (frames x frames) Gram matrix: cheap for long crops.
    gram = flat @ flat.T
    vals, vecs = np.linalg.eigh(gram.astype(np.float64))
    score = vecs[:, -1] * np.sqrt(max(vals[-1], 0.0))
    darkness = -flat.mean(axis=1)
    if np.dot(score, darkness) < 0:
        score = -score
    return motion, score


def circular_correlation(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """r[k] = Pearson r between a[t] and b[(t + k) mod n], for every k (both inputs z-scored)."""
    import numpy as np

    n = len(a)
    fa, fb = np.fft.rfft(a, n), np.fft.rfft(b, n)
    return np.fft.irfft(np.conj(fa) * fb, n) / n


def score_sync(mouth: np.ndarray, envelope: np.ndarray, fps: float, th: Thresholds) -> SyncScore:
    import numpy as np

    n = len(mouth)
    c = circular_correlation(_zscore(mouth), _zscore(envelope))
    span = min(th.search_lag_frames, (n - 1) // 2)
    lags = np.arange(-span, span + 1)
    r = c[lags % n]
    best = int(np.argmax(r))
    # The audio at t + lag matches the mouth at t: a positive lag is a mouth that leads its sound.
    peak, lag = float(r[best]), int(lags[best])
    confidence = peak - float(np.median(r))
    shift = max(int(round(th.null_shift_seconds * fps)), span + 1)
    dist = np.minimum(np.arange(n), n - np.arange(n))
    null_vals = c[dist >= shift]
    null_p95 = float(np.percentile(null_vals, 95)) if len(null_vals) >= 10 else None
    wide = min(int(round(th.wide_search_seconds * fps)), (n - 1) // 2)
    wlags = np.arange(-wide, wide + 1)
    wr = c[wlags % n]
    wbest = int(np.argmax(wr))
    return SyncScore(
        peak_r=round(peak, 4),
        lag_frames=lag,
        confidence=round(confidence, 4),
        null_p95=None if null_p95 is None else round(null_p95, 4),
        wide_peak_r=round(float(wr[wbest]), 4),
        wide_lag_frames=int(wlags[wbest]),
    )


def judge_sync(s: SyncScore, fps: float, th: Thresholds) -> tuple[Verdict, str]:
    numbers = f"peak r {s.peak_r:.2f} at lag {s.lag_frames:+d} frames, confidence {s.confidence:.2f}"
    numbers += f", null p95 {s.null_p95:.2f}" if s.null_p95 is not None else ", no null (clip too short)"
    fails = []
    if s.peak_r < th.min_peak_r:
        fails.append(f"r below {th.min_peak_r}")
    if s.confidence < th.min_confidence:
        fails.append(f"confidence below {th.min_confidence}")
    if abs(s.lag_frames) > th.max_lag_frames:
        fails.append(f"lag beyond +-{th.max_lag_frames} frames")
    if s.null_p95 is not None and s.peak_r <= s.null_p95:
        fails.append("not above the circular-shift null")
    if not fails:
        return Verdict.SYNCED, f"the mouth follows the speech: {numbers}."
    hint = ""
    if s.wide_peak_r >= th.min_peak_r and abs(s.wide_lag_frames) > th.max_lag_frames:
        hint = f"; the best match is {s.wide_lag_frames / fps:+.2f} s away (r {s.wide_peak_r:.2f})"
    return Verdict.UNSYNCED, f"the mouth does not follow the speech ({', '.join(fails)}): {numbers}{hint}."


# --- the whole verification ---------------------------------------------------------------------
def verify(
    video: Path,
    audio: Path | None = None,
    *,
    assess_sync: bool = True,
    not_assessed_reason: str = "sync not assessed",
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
) -> Verification:
    """Verify `video` against the speech in `audio` (default: the video's own audio stream).

    Raises MissingExtra without numpy/scikit-image and media.MediaError without ffmpeg; a video
    that does not decode is a result (a failed check), not an exception.
    """
    require_extra()
    import numpy as np

    started = time.perf_counter()
    th = thresholds
    video, audio_path = Path(video), Path(audio) if audio else Path(video)
    checks: list[Check] = []

    def result(verdict: Verdict, reason: str, **kw: object) -> Verification:
        base: dict[str, object] = dict(
            video=str(video), audio=str(audio_path), checks=tuple(checks), verdict=verdict, reason=reason,
            fps=0.0, frames=0, expected_frames=0.0, audio_seconds=0.0, face_fraction=0.0,
            mouth_motion=0.0, sync=None, sync_required=assess_sync,
        )
        base.update(kw)
        return Verification(**base)  # type: ignore[arg-type]

    if not video.is_file():
        checks.append(Check("exists", False, f"{video} does not exist"))
        return result(Verdict.NOT_ASSESSED, "there is no video to judge.")
    try:
        info = media.probe(video)
    except media.MediaError as exc:
        checks.append(Check("decodes", False, str(exc)))
        return result(Verdict.NOT_ASSESSED, "the file is not a readable video.")
    checks.append(Check("video stream", info.has_video, info.video_codec or "none"))
    checks.append(Check("audio stream", info.has_audio, info.audio_codec or "none"))
    if not info.has_video:
        return result(Verdict.NOT_ASSESSED, "the file holds no video stream.")
    fps = info.fps or 25.0
    w, h = media.scaled_size(info.width, info.height, ANALYSIS_SIZE)
    try:
        frames = media.read_gray_frames(video, w, h)
    except media.MediaError as exc:
        checks.append(Check("decodes", False, str(exc)))
        return result(Verdict.NOT_ASSESSED, "no frame of the video decodes.", fps=fps)
    n = len(frames)
    checks.insert(0, Check("decodes", True, f"{n} frames {info.width}x{info.height} at {fps:g} fps"))
    try:
        samples = media.read_audio(audio_path)
    except media.MediaError as exc:
        checks.append(Check("speech", False, str(exc)))
        return result(Verdict.NOT_ASSESSED, "there is no speech to compare with.", fps=fps, frames=n)
    audio_seconds = len(samples) / media.AUDIO_RATE
    expected = audio_seconds * fps
    checks.append(
        Check(
            "frame count",
            abs(n - expected) <= th.frame_tolerance,
            f"{n} frames for {audio_seconds:.2f} s of audio at {fps:g} fps (expected {expected:.1f}"
            f" +- {th.frame_tolerance})",
        )
    )
    envelope = speech_envelope(samples, media.AUDIO_RATE, fps, n)
    idx, boxes = find_faces(frames)
    found = [b for b in boxes if b is not None]
    face_fraction = len(found) / max(len(idx), 1)
    scale = info.width / w if w else 1.0
    common = dict(
        fps=fps, frames=n, expected_frames=round(expected, 2), audio_seconds=round(audio_seconds, 3),
        face_fraction=round(face_fraction, 3), envelope=tuple(np.round(envelope, 4).tolist()),
        sample_frames=tuple(idx),
    )
    if not assess_sync and face_fraction < th.min_face_fraction:
        # Random weights may well paint over the face: only the structure is judged then.
        return result(
            Verdict.NOT_ASSESSED,
            f"lip-sync {not_assessed_reason}; a face was found in {len(found)} of {len(idx)} sampled frames.",
            analysed_fps=round(n / (time.perf_counter() - started), 1),
            **common,
        )
    if face_fraction < th.min_face_fraction:
        return result(
            Verdict.NO_FACE,
            f"a face was found in {len(found)} of {len(idx)} sampled frames (needs {th.min_face_fraction:.0%}).",
            analysed_fps=round(n / (time.perf_counter() - started), 1),
            **common,
        )
    mboxes = mouth_boxes(n, idx, boxes, w, h)
    motion, opening = mouth_signals(frames, mboxes)
    mouth_motion = float(np.median(motion)) if len(motion) else 0.0
    fx = int(np.median([b.x for b in found]) * scale)
    fy = int(np.median([b.y for b in found]) * scale)
    fw = int(np.median([b.w for b in found]) * scale)
    fh = int(np.median([b.h for b in found]) * scale)
    common.update(
        mouth_motion=round(mouth_motion, 4), face_box=(fx, fy, fw, fh),
        mouth_signal=tuple(np.round(_zscore(opening), 4).tolist()),
    )
    sync = score_sync(opening, envelope, fps, th) if n >= 8 else None
    if mouth_motion < th.static_motion:
        verdict, reason = Verdict.STATIC, (
            f"the mouth region does not move: median frame difference {mouth_motion:.3f} grey levels"
            f" (below {th.static_motion})."
        )
    elif not assess_sync:
        verdict, reason = Verdict.NOT_ASSESSED, f"lip-sync {not_assessed_reason}; the mouth region moves."
    elif sync is None or n < th.min_sync_seconds * fps:
        verdict, reason = Verdict.NOT_ASSESSED, (
            f"the clip is {n / fps:.2f} s long; lip-sync needs at least {th.min_sync_seconds:g} s."
        )
    else:
        verdict, reason = judge_sync(sync, fps, th)
    elapsed = time.perf_counter() - started
    return result(verdict, reason, sync=sync, analysed_fps=round(n / elapsed, 1), **common)
