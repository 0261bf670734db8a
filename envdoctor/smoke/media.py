"""Read videos and audio with the ffmpeg and ffprobe binaries: no library that needs the target.

Frames come back as raw grey bytes on a pipe and audio as raw float samples, so the verifier
runs in envdoctor's own process whatever is (or is not) installed in the environment it treats.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # numpy is part of the optional `verify` extra, imported where it is used
    import numpy as np

AUDIO_RATE = 16000
"""The rate the verifier reads speech at: enough for a 2-7 Hz envelope, cheap to decode."""


class MediaError(RuntimeError):
    """ffmpeg or ffprobe is missing, or could not read a file; the message says which."""


@dataclass(frozen=True)
class StreamInfo:
    has_video: bool
    has_audio: bool
    width: int
    height: int
    fps: float
    video_codec: str
    audio_codec: str
    duration: float
    """Container duration in seconds (0.0 when ffprobe does not know it)."""


def tool(name: str) -> str:
    found = shutil.which(name)
    if not found:
        raise MediaError(f"{name} was not found on PATH: install it (Debian: apt-get install ffmpeg).")
    return found


def probe(path: Path) -> StreamInfo:
    """What streams a media file holds; MediaError when ffprobe cannot read it at all."""
    cmd = [tool("ffprobe"), "-v", "error", "-print_format", "json", "-show_streams", "-show_format", str(path)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    if proc.returncode != 0:
        tail = proc.stderr.strip().splitlines()[-1:] or ["no output"]
        raise MediaError(f"ffprobe cannot read {path}: {tail[0]}")
    data = json.loads(proc.stdout or "{}")
    streams = data.get("streams", [])
    video = next((s for s in streams if s.get("codec_type") == "video"), None)
    audio = next((s for s in streams if s.get("codec_type") == "audio"), None)
    fps = 0.0
    if video:
        for key in ("avg_frame_rate", "r_frame_rate"):
            rate = video.get(key) or "0/0"
            num, _, den = rate.partition("/")
            if den and int(den) and int(num):
                fps = float(Fraction(int(num), int(den)))
                break
    try:
        duration = float(data.get("format", {}).get("duration", 0.0))
    except (TypeError, ValueError):
        duration = 0.0
    return StreamInfo(
        has_video=video is not None,
        has_audio=audio is not None,
        width=int(video.get("width", 0)) if video else 0,
        height=int(video.get("height", 0)) if video else 0,
        fps=fps,
        video_codec=video.get("codec_name", "") if video else "",
        audio_codec=audio.get("codec_name", "") if audio else "",
        duration=duration,
    )


def scaled_size(width: int, height: int, longest: int) -> tuple[int, int]:
    """The size frames are analysed at: the long side at most `longest`, both sides even."""
    scale = min(1.0, longest / max(width, height, 1))
    w = max(2, int(round(width * scale / 2)) * 2)
    h = max(2, int(round(height * scale / 2)) * 2)
    return w, h


def read_gray_frames(path: Path, width: int, height: int, max_frames: int | None = None) -> np.ndarray:
    """Every frame as uint8 grey, resized to width x height: an array (frames, height, width).

    A file that stops decoding part way gives the frames before the damage, and ffmpeg's
    complaint is raised only when no frame came out at all.
    """
    import numpy as np

    cmd = [tool("ffmpeg"), "-v", "error", "-nostdin", "-i", str(path), "-map", "0:v:0"]
    if max_frames:
        cmd += ["-frames:v", str(max_frames)]
    cmd += ["-vf", f"scale={width}:{height}:flags=area", "-f", "rawvideo", "-pix_fmt", "gray", "-"]
    proc = subprocess.run(cmd, capture_output=True, timeout=600)
    size = width * height
    count = len(proc.stdout) // size
    if count == 0:
        tail = proc.stderr.decode(errors="replace").strip().splitlines()[-1:] or ["no frames"]
        raise MediaError(f"ffmpeg decoded no video frames from {path}: {tail[0]}")
    return np.frombuffer(proc.stdout[: count * size], dtype=np.uint8).reshape(count, height, width)


def read_rgb_frame(path: Path, index: int, width: int, height: int) -> np.ndarray:
    """One frame in colour (for the report's thumbnails)."""
    import numpy as np

    cmd = [
        tool("ffmpeg"), "-v", "error", "-nostdin", "-i", str(path), "-map", "0:v:0",
        "-vf", f"select=eq(n\\,{index}),scale={width}:{height}", "-frames:v", "1",
        "-f", "rawvideo", "-pix_fmt", "rgb24", "-",
    ]
    proc = subprocess.run(cmd, capture_output=True, timeout=120)
    size = width * height * 3
    if len(proc.stdout) < size:
        return np.zeros((height, width, 3), dtype=np.uint8)
    return np.frombuffer(proc.stdout[:size], dtype=np.uint8).reshape(height, width, 3)


def read_audio(path: Path, rate: int = AUDIO_RATE) -> np.ndarray:
    """The first audio stream as mono float32 samples at `rate`."""
    import numpy as np

    cmd = [
        tool("ffmpeg"), "-v", "error", "-nostdin", "-i", str(path), "-map", "0:a:0",
        "-ac", "1", "-ar", str(rate), "-f", "f32le", "-",
    ]
    proc = subprocess.run(cmd, capture_output=True, timeout=300)
    if proc.returncode != 0 or not proc.stdout:
        tail = proc.stderr.decode(errors="replace").strip().splitlines()[-1:] or ["no audio"]
        raise MediaError(f"ffmpeg decoded no audio from {path}: {tail[0]}")
    return np.frombuffer(proc.stdout, dtype="<f4").astype(np.float32)


def write_video(
    frames: np.ndarray, fps: float, out: Path, audio: Path | None = None, *, crf: int = 18
) -> None:
    """Encode RGB uint8 frames (n, h, w, 3) with libx264 (yuv420p), muxing `audio` as AAC if given."""
    n, h, w, _ = frames.shape
    cmd = [
        tool("ffmpeg"), "-v", "error", "-nostdin", "-y",
        "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{w}x{h}", "-r", f"{fps}", "-i", "-",
    ]
    if audio is not None:
        cmd += ["-i", str(audio), "-map", "0:v", "-map", "1:a", "-c:a", "aac"]
    cmd += ["-c:v", "libx264", "-preset", "veryfast", "-crf", str(crf), "-pix_fmt", "yuv420p", str(out)]
    proc = subprocess.run(cmd, input=frames.tobytes(), capture_output=True, timeout=600)
    if proc.returncode != 0:
        raise MediaError(f"ffmpeg could not write {out}: {proc.stderr.decode(errors='replace').strip()[-300:]}")


def write_wav(samples: np.ndarray, rate: int, out: Path) -> None:
    """Mono float samples to a 16-bit PCM wav."""
    cmd = [
        tool("ffmpeg"), "-v", "error", "-nostdin", "-y", "-f", "f32le", "-ar", str(rate), "-ac", "1",
        "-i", "-", "-c:a", "pcm_s16le", str(out),
    ]
    proc = subprocess.run(cmd, input=samples.astype("<f4").tobytes(), capture_output=True, timeout=120)
    if proc.returncode != 0:
        raise MediaError(f"ffmpeg could not write {out}: {proc.stderr.decode(errors='replace').strip()[-300:]}")
