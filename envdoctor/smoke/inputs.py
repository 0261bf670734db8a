"""The built-in smoke inputs: a face and a speech clip that ship inside packages.

Nothing is downloaded and no system tool but ffmpeg (envdoctor.tools.ffmpeg: PATH's or the PyPI
wheel's) is needed. The face is scikit-image's astronaut (public domain); the speech is a clip that
ships with envdoctor (DEFAULT_SENTENCE, made once with espeak-ng). Other sentences are spoken by
espeak-ng when it is installed. When something is missing the caller is told exactly what to install
or which option to pass instead.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from envdoctor import process
from envdoctor.errors import EnvdoctorError
from envdoctor.resources import data_dir
from envdoctor.verify import media

# About five seconds: long enough for the circular-shift null (shifts of 1.5 s or more each way),
# short enough for a CPU run. Open vowels and closed lips make the mouth move.
DEFAULT_SENTENCE = "Hello there. This is a short lip sync test: papa, mama, bob, and a wide yawn."

SPEECH_CLIP = "smoke-speech.ogg"
"""DEFAULT_SENTENCE spoken by espeak-ng 1.51, made once and kept under envdoctor/data/ (6.7 s,
16 kHz mono Ogg Vorbis, 31 KB):
  espeak-ng -s 150 -w s.wav "$DEFAULT_SENTENCE"
  ffmpeg -i s.wav -ac 1 -ar 16000 -c:a libvorbis -q:a 4 smoke-speech.ogg"""

FACE_CROP = (0, 448)
"""Columns of the 512x512 astronaut kept for the default face. The crop puts her face on the
image's vertical centre line, which a flip-tested landmark model with input-independent (synthetic)
weights needs, and gives MuseTalk's detector an image size it handles (448x512)."""


class InputError(EnvdoctorError, RuntimeError):
    """A default input cannot be made here; the message says what to install or pass instead."""

    code = "input-unavailable"


def astronaut_rgb():  # -> np.ndarray (512, 448, 3) uint8
    try:
        from skimage import data
    except ImportError as exc:
        raise InputError(
            "the default face comes from scikit-image (pip install 'envdoctor[verify]'); or pass --face FILE"
        ) from exc
    return data.astronaut()[:, FACE_CROP[0] : FACE_CROP[1]].copy()


def write_face(out: Path) -> Path:
    """The default face as a PNG at `out`."""
    img = astronaut_rgb()
    h, w, _ = img.shape
    cmd = media.ffmpeg_cmd(
        "-y", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{w}x{h}", "-i", "-", "-frames:v", "1", str(out)
    )
    proc = process.run(cmd, text=False, input=img.tobytes(), timeout=60)
    if proc.returncode != 0:
        raise InputError(f"could not write the default face to {out}: {proc.stderr.decode(errors='replace')[-200:]}")
    return out


def default_speech() -> Path:
    """The shipped clip of DEFAULT_SENTENCE."""
    return data_dir() / SPEECH_CLIP


def write_speech(out: Path, text: str | None = None, *, rate: int = 16000, words_per_minute: int = 150) -> Path:
    """Speech as a mono 16-bit wav at `out` (resampled to `rate`).

    Without `text`: the shipped clip of DEFAULT_SENTENCE. With `text`: spoken by espeak-ng.
    """
    if text is None:
        return _to_wav(default_speech(), out, rate)
    espeak = shutil.which("espeak-ng") or shutil.which("espeak")
    if not espeak:
        raise InputError(
            "speaking a sentence of your own needs espeak-ng (apt-get install espeak-ng); or pass --audio FILE"
        )
    raw = out.with_name(out.stem + ".espeak.wav")
    proc = process.run([espeak, "-s", str(words_per_minute), "-w", str(raw), text], text=False, timeout=60)
    if proc.returncode != 0 or not raw.is_file():
        raise InputError(f"espeak-ng failed: {proc.stderr.decode(errors='replace').strip()[-200:]}")
    try:
        return _to_wav(raw, out, rate)
    finally:
        raw.unlink(missing_ok=True)


def _to_wav(src: Path, out: Path, rate: int) -> Path:
    try:
        return media.to_mono_wav(src, out, rate)
    except media.MediaError as exc:
        raise InputError(f"the speech could not be converted: {exc}") from exc
