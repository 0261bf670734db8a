"""Read videos and audio with the ffmpeg binary alone: no library that needs the target, no ffprobe.

ffmpeg is PATH's, else the binary in PyPI's imageio-ffmpeg wheel (envdoctor.tools.ffmpeg), so a
machine without root or a system ffmpeg verifies too. Frames come back as raw grey bytes on a pipe
and audio as raw float samples, so the verifier runs in envdoctor's own process whatever is (or is
not) installed in the environment it treats.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from envdoctor import process
from envdoctor.errors import EnvdoctorError
from envdoctor.tools import ffmpeg as ffmpeg_tool

if TYPE_CHECKING:  # numpy is part of the optional `verify` extra, imported where it is used
    import numpy as np

AUDIO_RATE = 16000
"""The rate the verifier reads speech at: enough for a 2-7 Hz envelope, cheap to decode."""


class MediaError(EnvdoctorError, RuntimeError):
    """ffmpeg is missing, or could not read a file; the message says which."""

    code = "media-failed"


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
    """Container duration in seconds (0.0 when the container does not say)."""


def tool(name: str = "ffmpeg") -> str:
    """The ffmpeg envdoctor runs itself (the only tool this module calls)."""
    if name != "ffmpeg":
        raise ValueError(f"envdoctor runs ffmpeg only, not {name}")
    found = ffmpeg_tool.own_ffmpeg()
    if not found:
        raise MediaError(
            "no ffmpeg: none on PATH and no imageio-ffmpeg beside envdoctor "
            "(pip install 'envdoctor[verify]', or apt-get install ffmpeg)."
        )
    return found[0]


def ffmpeg_cmd(*args: str) -> list[str]:
    """An ffmpeg command line with envdoctor's defaults: errors only, never reading the terminal."""
    return [tool("ffmpeg"), "-v", "error", "-nostdin", *args]


def to_mono_wav(src: Path, out: Path, rate: int = 16000, seconds: float | None = None) -> Path:
    """`src` as 16-bit mono PCM at `rate` Hz (what MuseTalk's whisper feature extractor reads), cut to `seconds`."""
    cut = ("-t", f"{seconds:.3f}") if seconds is not None else ()
    cmd = ffmpeg_cmd("-y", "-i", str(src), *cut, "-ac", "1", "-ar", str(rate), "-c:a", "pcm_s16le", str(out))
    proc = process.run(cmd, text=False, timeout=60)
    if proc.returncode != 0:
        tail = proc.stderr.decode(errors="replace").strip()[-200:]
        raise MediaError(f"ffmpeg could not make a wav file of {src}: {tail}")
    return out


# ffmpeg's description of its input (stderr of `ffmpeg -i FILE`), e.g.
#   Duration: 00:00:05.04, start: 0.000000, bitrate: 96 kb/s
#   Stream #0:0[0x1](und): Video: h264 (High) (avc1 / 0x31637661), yuv420p(progressive), 448x512, 25 fps, ...
#   Stream #0:1[0x2](und): Audio: aac (LC) (mp4a / 0x6134706D), 16000 Hz, mono, fltp, 69 kb/s
_DURATION = re.compile(r"^\s*Duration: (\d+):(\d+):(\d+(?:\.\d+)?)", re.M)
_STREAM = re.compile(r"^\s*Stream #0:\d+\S*: (Video|Audio): (\w+)(.*)$", re.M)
_SIZE = re.compile(r"\s(\d+)x(\d+)(?=[,\s\[]|$)")
_RATE = re.compile(r"([\d.]+)(k?) (fps|tbr)\b")


def probe(path: Path) -> StreamInfo:
    """What streams a media file holds, from ffmpeg's own description; MediaError when it cannot read it."""
    cmd = [tool(), "-hide_banner", "-nostdin", "-i", str(path)]
    proc = process.run(cmd, timeout=60)
    text = proc.stderr
    if "Input #0" not in text:
        tail = text.strip().splitlines()[-1:] or ["no output"]
        raise MediaError(f"ffmpeg cannot read {path}: {tail[0]}")
    video = audio = None
    for m in _STREAM.finditer(text):
        if m.group(1) == "Video" and video is None and "attached pic" not in m.group(3):
            video = m
        elif m.group(1) == "Audio" and audio is None:
            audio = m
    width = height = 0
    fps = 0.0
    if video:
        size = _SIZE.search(video.group(3))
        if size:
            width, height = int(size.group(1)), int(size.group(2))
        rates = {unit: float(num) * (1000 if k else 1) for num, k, unit in _RATE.findall(video.group(3))}
        fps = rates.get("fps") or rates.get("tbr") or 0.0
    duration = 0.0
    d = _DURATION.search(text)
    if d:
        duration = int(d.group(1)) * 3600 + int(d.group(2)) * 60 + float(d.group(3))
    return StreamInfo(
        has_video=video is not None,
        has_audio=audio is not None,
        width=width,
        height=height,
        fps=fps,
        video_codec=video.group(2) if video else "",
        audio_codec=audio.group(2) if audio else "",
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

    cmd = ffmpeg_cmd("-i", str(path), "-map", "0:v:0")
    if max_frames:
        cmd += ["-frames:v", str(max_frames)]
    cmd += ["-vf", f"scale={width}:{height}:flags=area", "-f", "rawvideo", "-pix_fmt", "gray", "-"]
    proc = process.run(cmd, text=False, timeout=600, limit=process.UNLIMITED)
    size = width * height
    count = len(proc.stdout) // size
    if count == 0:
        tail = proc.stderr.decode(errors="replace").strip().splitlines()[-1:] or ["no frames"]
        raise MediaError(f"ffmpeg decoded no video frames from {path}: {tail[0]}")
    return np.frombuffer(proc.stdout[: count * size], dtype=np.uint8).reshape(count, height, width)


def read_rgb_frame(path: Path, index: int, width: int, height: int) -> np.ndarray:
    """One frame in colour (for the report's thumbnails)."""
    import numpy as np

    cmd = ffmpeg_cmd(
        "-i",
        str(path),
        "-map",
        "0:v:0",
        "-vf",
        f"select=eq(n\\,{index}),scale={width}:{height}",
        "-frames:v",
        "1",
        "-f",
        "rawvideo",
        "-pix_fmt",
        "rgb24",
        "-",
    )
    proc = process.run(cmd, text=False, timeout=120, limit=process.UNLIMITED)
    size = width * height * 3
    if len(proc.stdout) < size:
        return np.zeros((height, width, 3), dtype=np.uint8)
    return np.frombuffer(proc.stdout[:size], dtype=np.uint8).reshape(height, width, 3)


def read_audio(path: Path, rate: int = AUDIO_RATE) -> np.ndarray:
    """The first audio stream as mono float32 samples at `rate`."""
    import numpy as np

    cmd = ffmpeg_cmd("-i", str(path), "-map", "0:a:0", "-ac", "1", "-ar", str(rate), "-f", "f32le", "-")
    proc = process.run(cmd, text=False, timeout=300, limit=process.UNLIMITED)
    if proc.returncode != 0 or not proc.stdout:
        tail = proc.stderr.decode(errors="replace").strip().splitlines()[-1:] or ["no audio"]
        raise MediaError(f"ffmpeg decoded no audio from {path}: {tail[0]}")
    return np.frombuffer(proc.stdout, dtype="<f4").astype(np.float32)


def write_video(frames: np.ndarray, fps: float, out: Path, audio: Path | None = None, *, crf: int = 18) -> None:
    """Encode RGB uint8 frames (n, h, w, 3) with libx264 (yuv420p), muxing `audio` as AAC if given."""
    _n, h, w, _ = frames.shape
    cmd = ffmpeg_cmd("-y", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{w}x{h}", "-r", f"{fps}", "-i", "-")
    if audio is not None:
        cmd += ["-i", str(audio), "-map", "0:v", "-map", "1:a", "-c:a", "aac"]
    cmd += ["-c:v", "libx264", "-preset", "veryfast", "-crf", str(crf), "-pix_fmt", "yuv420p", str(out)]
    proc = process.run(cmd, text=False, input=frames.tobytes(), timeout=600)
    if proc.returncode != 0:
        raise MediaError(f"ffmpeg could not write {out}: {proc.stderr.decode(errors='replace').strip()[-300:]}")
