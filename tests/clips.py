"""Synthetic talking clips with known answers, for tests, benchmarks and stand-in apps.

A still face whose jaw is pulled down (and a dark mouth opened) by an opening signal per frame.
Driving the opening with the speech envelope gives a synced clip; the other kinds are the
negative controls the verifier must reject. Test material, not used to judge anything.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import TYPE_CHECKING

from envdoctor.verify import face, media

if TYPE_CHECKING:
    import numpy as np

KINDS = ("synced", "partial", "static", "random", "jitter", "shifted", "noise")


def opening_from_audio(samples: np.ndarray, rate: int, fps: float, frames: int) -> np.ndarray:
    """Mouth opening in [0, 1] per frame from the speech's log-RMS (robust min-max)."""
    import numpy as np

    from envdoctor.verify.verify import speech_envelope

    env = speech_envelope(samples, rate, fps, frames)
    lo, hi = np.percentile(env, 10), np.percentile(env, 95)
    return np.clip((env - lo) / max(hi - lo, 1e-6), 0.0, 1.0)


def smooth_noise(frames: int, fps: float, rng: np.random.Generator) -> np.ndarray:
    """Random opening in [0, 1] with speech-like tempo (about 3-6 Hz)."""
    import numpy as np

    x = rng.standard_normal(frames + 8)
    kernel = np.hanning(max(3, int(fps / 6)))
    y = np.convolve(x, kernel / kernel.sum(), mode="same")[4 : 4 + frames]
    return np.clip((y - y.min()) / max(float(np.ptp(y)), 1e-6), 0.0, 1.0)


class JawWarp:
    """Renders a face with its jaw lowered by `opening` x the maximum drop."""

    def __init__(self, image: np.ndarray) -> None:
        import numpy as np

        self.image = image
        h, w, _ = image.shape
        gray = (image.astype(np.float32) @ np.array([0.299, 0.587, 0.114], dtype=np.float32)).astype(np.uint8)
        box = face.detect(gray)
        if box is None:
            raise ValueError("no face in the image to animate")
        self.cx = box.x + box.w / 2
        self.my = box.y + 0.85 * box.h  # the lip line, in the cascade's box
        self.half_w = 0.45 * box.w
        self.jaw = 0.6 * box.h  # from the lips down to below the chin
        self.max_drop = 0.16 * box.h
        self.mouth_half_w = 0.2 * box.w
        ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
        self.ys, self.xs = ys, xs
        across = np.clip(1 - np.abs(xs - self.cx) / self.half_w, 0, 1)
        down = np.clip(1 - (ys - self.my) / self.jaw, 0, 1) * (ys >= self.my)
        self.weight = np.sin(across * np.pi / 2) * down

    def render(self, opening: float) -> np.ndarray:
        import numpy as np

        d = float(opening) * self.max_drop
        src_y = np.clip(np.round(self.ys - d * self.weight), 0, self.image.shape[0] - 1).astype(np.int64)
        out = self.image[src_y, self.xs.astype(np.int64)].copy()
        if d >= 1:
            inside = ((self.xs - self.cx) / self.mouth_half_w) ** 2 + ((self.ys - self.my - d / 2) / (d / 2)) ** 2
            out[inside <= 1] = (60, 25, 30)
        return out


def make_clip(
    kind: str,
    image: np.ndarray,
    audio: Path,
    out: Path,
    *,
    fps: float = 25.0,
    seed: int = 0,
    mux_audio: Path | None = None,
    frames: int | None = None,
) -> Path:
    """Write a clip of `kind` (see KINDS) for the speech in `audio` to `out` (h264 + AAC).

    The video carries `mux_audio` (default: `audio`) as its sound track; `frames` overrides the
    frame count (to make a truncated video).
    """
    import numpy as np

    if kind not in KINDS:
        raise ValueError(f"unknown clip kind {kind!r}; one of {', '.join(KINDS)}")
    rng = np.random.default_rng(seed)
    samples = media.read_audio(audio)
    n = frames if frames is not None else int(len(samples) / media.AUDIO_RATE * fps)
    h, w, _ = image.shape
    if kind == "noise":
        video = rng.integers(0, 256, size=(n, h, w, 3), dtype=np.uint8)
        media.write_video(video, fps, out, mux_audio or audio)
        return out
    speech = opening_from_audio(samples, media.AUDIO_RATE, fps, max(n, 1))
    if kind == "synced":
        opening = speech
    elif kind == "partial":  # 60 % speech, 40 % random movement
        opening = 0.6 * speech + 0.4 * smooth_noise(n, fps, rng)
    elif kind == "shifted":  # the mouth one second late
        lag = int(round(fps))
        opening = np.concatenate([np.zeros(lag), speech[: n - lag]])
    elif kind == "random":
        opening = smooth_noise(n, fps, rng)
    else:
        opening = np.zeros(n)
    warp = JawWarp(image)
    video = np.empty((n, h, w, 3), dtype=np.uint8)
    for t in range(n):
        video[t] = warp.render(opening[t])
    if kind == "jitter":  # a still mouth in a head that wobbles a few pixels
        # A step of one pixel every frame, kept within +-6 px: the head never rests.
        steps = np.zeros((n, 2), dtype=np.int64)
        for t in range(1, n):
            step = rng.choice([-1, 1], size=2)
            steps[t] = np.where(np.abs(steps[t - 1] + step) > 6, steps[t - 1] - step, steps[t - 1] + step)
        for t in range(n):
            video[t] = np.roll(video[t], (int(steps[t, 0]), int(steps[t, 1])), axis=(0, 1))
    media.write_video(video, fps, out, mux_audio or audio)
    return out


def long_clip(face_png: Path, seconds: float, out: Path, *, size: int = 256, fps: int = 25) -> Path:
    """A long clip, cheap to make: the still face with its brightness swinging at 3 Hz (so every
    region moves) and a tone whose loudness swings at 3 Hz, both made by ffmpeg's own filters. One
    minute is encoded, and longer clips are that minute joined to itself without re-encoding. For
    measuring the verifier on long inputs; it has no lip-sync to find."""
    unit_seconds = min(seconds, 60.0)
    unit = out.with_name(out.stem + ".unit.mp4") if seconds > unit_seconds else out
    _run_ffmpeg(
        [
            "-loop",
            "1",
            "-framerate",
            str(fps),
            "-i",
            str(face_png),
            "-f",
            "lavfi",
            "-i",
            "aevalsrc=0.4*sin(2*PI*220*t)*(0.6+0.4*sin(2*PI*3*t)):s=16000",
            "-t",
            f"{unit_seconds:g}",
            "-vf",
            f"scale={size}:{size},hue=b='1.5*sin(2*PI*3*t)'",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-crf",
            "32",
            "-pix_fmt",
            "yuv420p",
            "-c:a",
            "aac",
            "-b:a",
            "32k",
            "-shortest",
            str(unit),
        ],
        unit,
    )
    if unit == out:
        return out
    copies = int(seconds // unit_seconds)
    listing = out.with_name(out.stem + ".concat.txt")
    listing.write_text(f"file '{unit.name}'\n" * copies)
    try:
        _run_ffmpeg(["-f", "concat", "-safe", "0", "-i", str(listing), "-c", "copy", str(out)], out)
    finally:
        listing.unlink(missing_ok=True)
        unit.unlink(missing_ok=True)
    return out


def _run_ffmpeg(args: list[str], out: Path) -> None:
    proc = subprocess.run(
        [media.tool("ffmpeg"), "-v", "error", "-nostdin", "-y", *args], capture_output=True, timeout=1800
    )
    if proc.returncode != 0:
        raise media.MediaError(f"ffmpeg could not write {out}: {proc.stderr.decode(errors='replace').strip()[-300:]}")


def generated_clip(
    image: np.ndarray,
    box: tuple[int, int, int, int],
    kind: str,
    audio: Path,
    out: Path,
    *,
    fps: float = 25.0,
    seed: int = 0,
    moving_face: bool = False,
) -> Path:
    """A still `image` with a generated region pasted at `box` (x, y, w, h) in every frame, as a
    lip-sync app writes it: "noise" (fresh noise each frame, as synthetic weights give), "fixed" (one
    patch that never changes) or "same" (the input itself). With `moving_face` the image's own face,
    outside the box, slides a pixel a frame: motion a face detector would measure instead."""
    import numpy as np

    if kind not in ("noise", "fixed", "same"):
        raise ValueError(f"unknown generated kind {kind!r}")
    rng = np.random.default_rng(seed)
    n = int(len(media.read_audio(audio)) / media.AUDIO_RATE * fps)
    x, y, w, h = box
    video = np.repeat(image[None], n, axis=0)
    fixed = rng.integers(0, 256, size=(h, w, 3), dtype=np.uint8)
    found = None
    if moving_face:
        gray = (image.astype(np.float32) @ np.array([0.299, 0.587, 0.114], dtype=np.float32)).astype(np.uint8)
        found = face.detect(gray)
        if found is None:
            raise ValueError("no face in the image to move")
    for t in range(n):
        if kind == "noise":
            video[t, y : y + h, x : x + w] = rng.integers(0, 256, size=(h, w, 3), dtype=np.uint8)
        elif kind == "fixed":
            video[t, y : y + h, x : x + w] = fixed
        if found is not None:
            f = found
            shift = int(6 * np.sin(2 * np.pi * t / 12))
            video[t, f.y : f.y + f.h, f.x : f.x + f.w] = np.roll(image[f.y : f.y + f.h, f.x : f.x + f.w], shift, axis=1)
    media.write_video(video, fps, out, audio)
    return out
