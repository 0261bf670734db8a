"""Judge a talking-head video from its pixels and its speech: structure first, then lip-sync.

Runs in envdoctor's own process and needs the optional `verify` extra (numpy, scikit-image).
The idea (docs/smoke.md): natural mouth opening follows the acoustic envelope, so a mouth-region
signal that correlates with the log-RMS of the speech near lag 0, clearly above what circular
shifts of the same signals give, is lip-sync. No downloaded weights are involved.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from envdoctor.errors import EnvdoctorError
from envdoctor.verify import media, stream
from envdoctor.verify.face import Box, detect
from envdoctor.verify.region import Region
from envdoctor.verify.verdicts import (
    DEFAULT_THRESHOLDS,
    Check,
    RegionSource,
    SyncScore,
    Thresholds,
    VideoVerdict,
    VideoVerification,
)

if TYPE_CHECKING:
    import numpy as np

ANALYSIS_SIZE = 320
"""Frames are analysed with their long side at most this many pixels: plenty for a face box."""
FACE_SAMPLES = 24
"""How many frames, spread over the clip, the face detector looks at."""
MOUTH_PIXELS = 2304
# The upper-face reference (eyes and nose): a box of the mouth's size this many mouth-heights above it,
# kept coarser (it only has to tell head motion).
REFERENCE_OFFSET = 1.2
REFERENCE_PIXELS = 576
"""The most pixels of each frame's mouth crop kept for the opening signal (block means beyond), held
as float16 (exact for grey levels): a 30-minute clip at 25 fps keeps about 200 MB."""


class MissingExtra(EnvdoctorError, RuntimeError):
    """The verifier's optional packages are not installed; the message says how to get them."""

    code = "extra-missing"


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
    return envelope_of_chunks([samples], rate, fps, frames)[0]


def envelope_of_chunks(chunks: Iterable[np.ndarray], rate: int, fps: float, frames: int) -> tuple[np.ndarray, int]:
    """speech_envelope over samples that arrive in pieces, in memory bounded by the frame count;
    also the number of samples seen. A frame past the end of the speech counts as silence."""
    import numpy as np

    edges = np.round(np.arange(frames + 1) * rate / fps).astype(np.int64)
    energy = np.zeros(frames, dtype=np.float64)
    seen = 0
    for chunk in chunks:
        at = np.arange(seen, seen + len(chunk), dtype=np.int64)
        frame_of = np.searchsorted(edges, at, side="right") - 1
        inside = frame_of < frames
        sq = chunk[inside].astype(np.float64) ** 2
        energy += np.bincount(frame_of[inside], weights=sq, minlength=frames)[:frames]
        seen += len(chunk)
    counts = np.maximum(edges[1:] - edges[:-1], 1)
    rms = np.sqrt(energy / counts)
    # A floor 60 dB under the loudest frame keeps digital silence from dominating the log.
    floor = max(float(rms.max()) * 1e-3, 1e-6) if frames else 1e-6
    return _zscore(np.log(np.maximum(rms, floor))), seen


def _zscore(x: np.ndarray) -> np.ndarray:
    import numpy as np

    x = np.asarray(x, dtype=np.float64)
    sd = x.std()
    return (x - x.mean()) / sd if sd > 1e-12 else np.zeros_like(x)


def sample_indices(n: int, samples: int = FACE_SAMPLES) -> list[int]:
    """The frames the face detector looks at: `samples` of them, spread over the clip."""
    import numpy as np

    if n <= 0:
        return []
    return sorted(set(np.linspace(0, n - 1, num=min(samples, n)).round().astype(int).tolist()))


def find_faces(
    frames: Mapping[int, np.ndarray] | np.ndarray, idx: list[int] | None = None
) -> tuple[list[int], list[Box | None]]:
    """Face boxes in the frames at `idx` (default: sample_indices over all of `frames`)."""
    idx = sample_indices(len(frames)) if idx is None else idx
    boxes: list[Box | None] = []
    last: Box | None = None
    for i in idx:
        box = detect(frames[i], near=last)
        boxes.append(box)
        last = box or last
    return idx, boxes


SAMPLE_SLACK = 4
"""Frames kept on each side of each sampled index estimated from the container's duration: the
exact indices are among them unless the real frame count is that far off (then one more pass)."""


def count_and_sample(video: Path, w: int, h: int, estimate: int) -> tuple[int, dict[int, np.ndarray]]:
    """The number of frames and the frames the face detector needs, in one streaming pass (two when
    the container's duration was far off): a few hundred small frames in memory at most."""
    near = {i + d for i in sample_indices(estimate) for d in range(-SAMPLE_SLACK, SAMPLE_SLACK + 1)}
    n, kept = _sample_pass(video, w, h, near)
    exact = sample_indices(n)
    if not set(exact) <= set(kept):
        _, kept = _sample_pass(video, w, h, set(exact))
    return n, {i: kept[i] for i in exact}


def _sample_pass(video: Path, w: int, h: int, want: set[int]) -> tuple[int, dict[int, np.ndarray]]:
    n = 0
    kept: dict[int, np.ndarray] = {}
    for batch in stream.gray_frames(video, w, h):
        for j in range(len(batch)):
            if n + j in want:
                kept[n + j] = batch[j].copy()
        n += len(batch)
    return n, kept


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


def _blocks(box: Box, limit: int) -> tuple[int, int, int]:
    """(factor, rows, cols): block means that bring a box down to at most `limit` pixels."""
    import numpy as np

    f = max(1, int(np.ceil(np.sqrt(box.h * box.w / limit))))
    if f > min(box.h, box.w):
        f = 1
    return f, box.h // f, box.w // f


def _principal(small: np.ndarray) -> np.ndarray:
    """The first principal component of the rows of `small` (frames x pixels) over time, its sign chosen
    so that it grows as the region darkens. Chunked: cost and memory do not grow with the square of
    the clip's length (the scatter matrix is pixels x pixels)."""
    import numpy as np

    t = len(small)
    total = np.zeros(small.shape[1], dtype=np.float64)
    for i in range(0, t, 4096):
        total += small[i : i + 4096].sum(axis=0, dtype=np.float64)
    mean = (total / max(t, 1)).astype(np.float32)
    scatter = np.zeros((small.shape[1], small.shape[1]), dtype=np.float64)
    for i in range(0, t, 4096):
        xc = small[i : i + 4096].astype(np.float32) - mean
        scatter += (xc.T @ xc).astype(np.float64)
    if not np.any(scatter):
        return np.zeros(t)
    _vals, vecs = np.linalg.eigh(scatter)
    direction = vecs[:, -1].astype(np.float32)
    score = np.empty(t, dtype=np.float64)
    darkness = np.empty(t, dtype=np.float64)
    for i in range(0, t, 4096):
        xc = small[i : i + 4096].astype(np.float32) - mean
        score[i : i + 4096] = xc @ direction
        darkness[i : i + 4096] = -xc.mean(axis=1)
    return -score if np.dot(score, darkness) < 0 else score


def reference_boxes(boxes: list[Box]) -> list[Box]:
    """Boxes of the mouth's size over the eyes and nose, which move with the head but not with speech."""
    return [Box(b.x, max(0, b.y - int(round(REFERENCE_OFFSET * b.h))), b.w, b.h) for b in boxes]


def mouth_signals(
    frames: np.ndarray | Iterable[np.ndarray], boxes: list[Box], reference: list[Box] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """(motion, opening): mean absolute frame difference per frame pair, and the mouth's main mode.

    `frames` is an array (n, h, w) or batches of one, in order; only the mouth crops are kept, at
    most MOUTH_PIXELS pixels each (block means), so memory grows with the frame count times that
    and time linearly. The opening signal is the first principal component of the mouth crops over
    time, its sign chosen so that it grows as the region darkens (an open mouth shows its dark
    inside). With `reference` boxes (the upper face, reference_boxes()), the part of the opening that
    the reference region's own main mode explains is removed: a head that moves shifts both regions
    alike, a mouth that speaks moves only its own. It never looks at the audio, so it cannot be fitted
    to it.
    """
    import numpy as np

    n = len(boxes)
    if n == 0:
        return np.zeros(0), np.zeros(0)
    f, dh, dw = _blocks(boxes[0], MOUTH_PIXELS)
    small = np.empty((n, dh * dw), dtype=np.float16)
    rf, rh, rw = _blocks(reference[0], REFERENCE_PIXELS) if reference else (1, 0, 0)
    ref_small = np.empty((n, rh * rw), dtype=np.float16) if reference else None
    motion = np.zeros(max(n - 1, 0), dtype=np.float64)
    batches = [frames] if isinstance(frames, np.ndarray) else frames
    t = 0
    prev: np.ndarray | None = None
    for batch in batches:
        for frame in batch:
            if t >= n:
                break
            b = boxes[t]
            crop = frame[b.y : b.y + b.h, b.x : b.x + b.w].astype(np.float32)
            if prev is not None:
                motion[t - 1] = float(np.abs(crop - prev).mean())
            prev = crop
            small[t] = crop[: dh * f, : dw * f].reshape(dh, f, dw, f).mean(axis=(1, 3)).reshape(-1)
            if reference and ref_small is not None:
                r = reference[t]
                rcrop = frame[r.y : r.y + rh * rf, r.x : r.x + rw * rf].astype(np.float32)
                if rcrop.shape == (rh * rf, rw * rf):
                    ref_small[t] = rcrop.reshape(rh, rf, rw, rf).mean(axis=(1, 3)).reshape(-1)
                else:  # the region left the frame: no head motion is told from it
                    ref_small[t] = ref_small[t - 1] if t else 0
            t += 1
    small, motion = small[:t], motion[: max(t - 1, 0)]
    score = _principal(small)
    if ref_small is None or not np.any(score):
        return motion, score
    ref = _zscore(_principal(ref_small[:t]))
    opening = _zscore(score)
    beta = float(np.dot(opening, ref) / max(float(np.dot(ref, ref)), 1e-9))
    return motion, opening - beta * ref


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


def judge_sync(s: SyncScore, fps: float, th: Thresholds) -> tuple[VideoVerdict, str]:
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
        return VideoVerdict.SYNCED, f"the mouth follows the speech: {numbers}."
    hint = ""
    if s.wide_peak_r >= th.min_peak_r and abs(s.wide_lag_frames) > th.max_lag_frames:
        hint = f"; the best match is {s.wide_lag_frames / fps:+.2f} s away (r {s.wide_peak_r:.2f})"
    return VideoVerdict.UNSYNCED, f"the mouth does not follow the speech ({', '.join(fails)}): {numbers}{hint}."


# --- the whole verification ---------------------------------------------------------------------
def verify(
    video: Path,
    audio: Path | None = None,
    *,
    assess_sync: bool = True,
    not_assessed_reason: str = "sync not assessed",
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
    region: Region | None = None,
) -> VideoVerification:
    """Verify `video` against the speech in `audio` (default: the video's own audio stream).

    With `region` (envdoctor.verify.region.locate: the caller knows what the video was made from)
    motion and sync are measured there and no face is looked for; without it, in a mouth box of
    the face the detector finds.

    Raises MissingExtra without numpy/scikit-image and media.MediaError without ffmpeg; a video
    that does not decode is a result (a failed check), not an exception.
    """
    require_extra()
    import numpy as np

    started = time.perf_counter()
    th = thresholds
    video, audio_path = Path(video), Path(audio) if audio else Path(video)
    checks: list[Check] = []

    def result(verdict: VideoVerdict, reason: str, **kw: object) -> VideoVerification:
        base: dict[str, object] = {
            "video": str(video),
            "audio": str(audio_path),
            "checks": tuple(checks),
            "verdict": verdict,
            "reason": reason,
            "fps": 0.0,
            "frames": 0,
            "expected_frames": 0.0,
            "audio_seconds": 0.0,
            "face_fraction": 0.0,
            "mouth_motion": 0.0,
            "sync": None,
            "sync_required": assess_sync,
        }
        base.update(kw)
        return VideoVerification(**base)  # type: ignore[arg-type]

    if not video.is_file():
        checks.append(Check("exists", False, f"{video} does not exist"))
        return result(VideoVerdict.NOT_ASSESSED, "there is no video to judge.")
    try:
        info = media.probe(video)
    except media.MediaError as exc:
        checks.append(Check("decodes", False, str(exc)))
        return result(VideoVerdict.NOT_ASSESSED, "the file is not a readable video.")
    checks.append(Check("video stream", info.has_video, info.video_codec or "none"))
    checks.append(Check("audio stream", info.has_audio, info.audio_codec or "none"))
    if not info.has_video:
        return result(VideoVerdict.NOT_ASSESSED, "the file holds no video stream.")
    fps = info.fps or 25.0
    w, h = media.scaled_size(info.width, info.height, ANALYSIS_SIZE)
    estimate = int(round(info.duration * fps))
    try:
        # Streamed: the frames pass through in batches, twice (faces, then mouths), never all at once.
        n, sampled = count_and_sample(video, w, h, estimate)
    except media.MediaError as exc:
        checks.append(Check("decodes", False, str(exc)))
        return result(VideoVerdict.NOT_ASSESSED, "no frame of the video decodes.", fps=fps)
    checks.insert(0, Check("decodes", True, f"{n} frames {info.width}x{info.height} at {fps:g} fps"))
    try:
        envelope, sample_count = envelope_of_chunks(stream.audio(audio_path), media.AUDIO_RATE, fps, n)
    except media.MediaError as exc:
        checks.append(Check("speech", False, str(exc)))
        return result(VideoVerdict.NOT_ASSESSED, "there is no speech to compare with.", fps=fps, frames=n)
    audio_seconds = sample_count / media.AUDIO_RATE
    expected = audio_seconds * fps
    checks.append(
        Check(
            "frame count",
            abs(n - expected) <= th.frame_tolerance,
            f"{n} frames for {audio_seconds:.2f} s of audio at {fps:g} fps (expected {expected:.1f}"
            f" +- {th.frame_tolerance})",
        )
    )
    scale = info.width / w if w else 1.0
    common: dict[str, object] = {
        "fps": fps,
        "frames": n,
        "expected_frames": round(expected, 2),
        "audio_seconds": round(audio_seconds, 3),
        "envelope": tuple(np.round(envelope, 4).tolist()),
    }
    if region is not None:
        del sampled
        common["region_source"] = region.source
        if region.box is None:
            return result(
                VideoVerdict.STATIC,
                f"nothing was generated: {region.detail}",
                analysed_fps=round(n / (time.perf_counter() - started), 1),
                **common,
            )
        rb = region.box
        common["region"] = (rb.x, rb.y, rb.w, rb.h)
        x0, y0 = min(int(rb.x / scale), w - 2), min(int(rb.y / scale), h - 2)
        x1, y1 = (
            min(w, max(x0 + 2, int(round((rb.x + rb.w) / scale)))),
            min(h, max(y0 + 2, int(round((rb.y + rb.h) / scale)))),
        )
        # The input is known and still: nothing but the generated region moves, so no head motion to take out.
        mboxes, reference = [Box(x0, y0, x1 - x0, y1 - y0)] * n, None
        where = f"the generated region {rb.x},{rb.y},{rb.w}x{rb.h}"
    else:
        idx, boxes = find_faces(sampled, sorted(sampled))
        del sampled
        found = [b for b in boxes if b is not None]
        face_fraction = len(found) / max(len(idx), 1)
        common.update(face_fraction=round(face_fraction, 3), sample_frames=tuple(idx))
        if not assess_sync and face_fraction < th.min_face_fraction:
            # Random weights may well paint over the face: only the structure is judged then.
            return result(
                VideoVerdict.NOT_ASSESSED,
                f"lip-sync {not_assessed_reason}; a face was found in {len(found)} of {len(idx)} sampled frames.",
                analysed_fps=round(n / (time.perf_counter() - started), 1),
                **common,
            )
        if face_fraction < th.min_face_fraction:
            return result(
                VideoVerdict.NO_FACE,
                f"a face was found in {len(found)} of {len(idx)} sampled frames (needs {th.min_face_fraction:.0%}).",
                analysed_fps=round(n / (time.perf_counter() - started), 1),
                **common,
            )
        mboxes = mouth_boxes(n, idx, boxes, w, h)
        reference = reference_boxes(mboxes)
        fx = int(np.median([b.x for b in found]) * scale)
        fy = int(np.median([b.y for b in found]) * scale)
        fw = int(np.median([b.w for b in found]) * scale)
        fh = int(np.median([b.h for b in found]) * scale)
        mouth = Box(fx, fy, fw, fh).mouth(info.width, info.height)
        common.update(
            face_box=(fx, fy, fw, fh),
            region=(mouth.x, mouth.y, mouth.w, mouth.h),
            region_source=RegionSource.FACE,
        )
        where = "the mouth region"
    motion, opening = mouth_signals(stream.gray_frames(video, w, h), mboxes, reference)
    mouth_motion = float(np.median(motion)) if len(motion) else 0.0
    common.update(
        mouth_motion=round(mouth_motion, 4),
        mouth_signal=tuple(np.round(_zscore(opening), 4).tolist()),
    )
    m = min(len(opening), n)  # a second decode that stopped early must not misalign the two signals
    sync = score_sync(opening[:m], envelope[:m], fps, th) if m >= 8 else None
    if mouth_motion < th.static_motion:
        verdict, reason = (
            VideoVerdict.STATIC,
            (
                f"{where} does not move: median frame difference {mouth_motion:.3f} grey levels"
                f" (below {th.static_motion})."
            ),
        )
    elif not assess_sync:
        verdict, reason = (
            VideoVerdict.NOT_ASSESSED,
            f"lip-sync {not_assessed_reason}; {where} changes from frame to frame: median frame difference"
            f" {mouth_motion:.3f} grey levels.",
        )
    elif sync is None or n < th.min_sync_seconds * fps:
        verdict, reason = (
            VideoVerdict.NOT_ASSESSED,
            (f"the clip is {n / fps:.2f} s long; lip-sync needs at least {th.min_sync_seconds:g} s."),
        )
    else:
        verdict, reason = judge_sync(sync, fps, th)
    if region is not None:
        reason += f" Region: {region.detail}"
    elapsed = time.perf_counter() - started
    return result(verdict, reason, sync=sync, analysed_fps=round(n / elapsed, 1), **common)
