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
        if not face.is_file():
            problems.append(f"--face {face} does not exist or is not a file")
        elif own is not None:
            try:
                info = media.probe(face)
            except media.MediaError as exc:
                problems.append(f"--face {face} is no image or video: {exc}")
            else:
                if not info.has_video or not info.width:
                    problems.append(f"--face {face} holds no picture (ffmpeg finds no video stream)")
                else:
                    face_size = (info.width, info.height)
    else:
        try:
            inputs.astronaut_rgb()
        except inputs.InputError as exc:
            problems.append(str(exc))
    speech = audio if audio is not None else inputs.default_speech()
    if audio is not None and not audio.is_file():
        problems.append(f"--audio {audio} does not exist or is not a file")
    elif not speech.is_file():
        problems.append(f"the shipped speech clip {speech} is missing (a broken install?); pass --audio FILE")
    elif own is not None:
        try:
            info = media.probe(speech)
        except media.MediaError as exc:
            problems.append(f"--audio {speech} is no sound file: {exc}")
        else:
            if not info.has_audio:
                problems.append(f"--audio {speech} holds no sound (ffmpeg finds no audio stream)")
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


def _existing(path: Path) -> Path:
    """The nearest folder of `path` that exists (disk_usage needs one)."""
    for candidate in (path, *path.parents):
        if candidate.exists():
            return candidate
    return Path.cwd()
