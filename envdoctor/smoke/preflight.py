"""Everything `smoke --app` needs, checked in its first seconds, before any heavy step.

A face that does not decode, speech without sound, no ffmpeg anywhere, or too little disk for the
synthetic weights would otherwise surface after minutes of writing gigabytes. Each problem is one
sentence; all of them are reported together.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from envdoctor.errors import UsageError
from envdoctor.smoke import inputs, models
from envdoctor.tools import ffmpeg as ffmpeg_tool
from envdoctor.verify import media

DEFAULT_FACE_SIZE = (448, 512)
"""The default face (the astronaut crop), width x height."""


@dataclass(frozen=True)
class Preflight:
    ffmpeg: str
    """The ffmpeg envdoctor runs (inputs, verification)."""
    target_ffmpeg: str | None
    """The ffmpeg MuseTalk finds in the target; None means envdoctor lends its own for the run."""
    face_size: tuple[int, int]
    free_bytes: int | None
    """Free space where the synthetic weights go (None without --synthetic-weights)."""


def check(
    python: Path,
    *,
    face: Path | None,
    audio: Path | None,
    synthetic_weights: bool,
    weights_dir: Path,
) -> Preflight:
    """Raise UsageError naming every problem, or return what the run will use. Writes nothing."""
    problems: list[str] = []
    own = ffmpeg_tool.own_ffmpeg()
    if own is None:
        problems.append(
            "no ffmpeg: none on PATH and no imageio-ffmpeg beside envdoctor (pip install 'envdoctor[verify]')"
        )
    face_size = DEFAULT_FACE_SIZE
    if face is not None:
        info = _read_input(FACE, face, probe=own is not None, problems=problems)
        if info is not None:
            face_size = (info.width, info.height)
    else:
        try:
            inputs.astronaut_rgb()
        except inputs.InputError as exc:
            problems.append(str(exc))
    speech = audio if audio is not None else inputs.default_speech()
    if audio is None and not speech.is_file():
        problems.append(f"the shipped speech clip {speech} is missing (a broken install?); pass --audio FILE")
    else:
        _read_input(SPEECH, speech, probe=own is not None, problems=problems)
    free = None
    if synthetic_weights:
        free = shutil.disk_usage(_existing(weights_dir)).free
        need = models.synthetic_bytes_needed()
        if free < need:
            problems.append(
                f"the synthetic weights need {need / 2**30:.1f} GiB free in {weights_dir}, which has "
                f"{free / 2**30:.1f} GiB (set TMPDIR to a roomier folder)"
            )
    if problems:
        raise UsageError("smoke cannot start: " + "; ".join(problems) + ".")
    found = ffmpeg_tool.target_ffmpeg(python)
    return Preflight(own[0] if own else "", found[0] if found else None, face_size, free)


@dataclass(frozen=True)
class _Input:
    """A file the user hands smoke, and what it must hold."""

    flag: str
    kind: str
    """What the file must be: said when ffmpeg cannot read it."""
    holds: str
    stream: str
    """video | audio: the stream ffmpeg must find."""

    def has(self, info: media.StreamInfo) -> bool:
        return bool(info.has_video and info.width) if self.stream == "video" else info.has_audio


FACE = _Input("--face", "image or video", "picture", "video")
SPEECH = _Input("--audio", "sound file", "sound", "audio")


def _read_input(want: _Input, path: Path, *, probe: bool, problems: list[str]) -> media.StreamInfo | None:
    """What ffmpeg finds in `path` (when `probe`: without ffmpeg only its existence is checked), or None
    with the problem said in `problems`."""
    if not path.is_file():
        problems.append(f"{want.flag} {path} does not exist or is not a file")
        return None
    if not probe:
        return None
    try:
        info = media.probe(path)
    except media.MediaError as exc:
        problems.append(f"{want.flag} {path} is no {want.kind}: {exc}")
        return None
    if not want.has(info):
        problems.append(f"{want.flag} {path} holds no {want.holds} (ffmpeg finds no {want.stream} stream)")
        return None
    return info


def _existing(path: Path) -> Path:
    """The nearest folder of `path` that exists (disk_usage needs one)."""
    for candidate in (path, *path.parents):
        if candidate.exists():
            return candidate
    return Path.cwd()
