"""The built-in smoke inputs: a face that ships inside a package and speech made on the spot.

Nothing is downloaded. The face is scikit-image's astronaut (public domain); the speech is
synthesised with Debian's espeak-ng. When either is missing the caller is told exactly what to
install or which option to pass instead.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from envdoctor.smoke import media

# About five seconds: long enough for the circular-shift null (shifts of 1.5 s or more each way),
# short enough for a CPU run. Open vowels and closed lips make the mouth move.
DEFAULT_SENTENCE = "Hello there. This is a short lip sync test: papa, mama, bob, and a wide yawn."

FACE_CROP = (0, 448)
"""Columns of the 512x512 astronaut kept for the default face. The crop puts her face on the
image's vertical centre line, which a flip-tested landmark model with input-independent (synthetic)
weights needs, and gives MuseTalk's detector an image size it handles (448x512)."""


class InputError(RuntimeError):
    """A default input cannot be made here; the message says what to install or pass instead."""


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
    cmd = [
        media.tool("ffmpeg"), "-v", "error", "-nostdin", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24",
        "-s", f"{w}x{h}", "-i", "-", "-frames:v", "1", str(out),
    ]
    proc = subprocess.run(cmd, input=img.tobytes(), capture_output=True, timeout=60)
    if proc.returncode != 0:
        raise InputError(f"could not write the default face to {out}: {proc.stderr.decode(errors='replace')[-200:]}")
    return out


def write_speech(out: Path, text: str = DEFAULT_SENTENCE, *, rate: int = 16000, words_per_minute: int = 150) -> Path:
    """Synthesise `text` with espeak-ng into a mono 16-bit wav at `out` (resampled to `rate`)."""
    espeak = shutil.which("espeak-ng") or shutil.which("espeak")
    if not espeak:
        raise InputError("the default speech is made with espeak-ng (apt-get install espeak-ng); or pass --audio FILE")
    raw = out.with_name(out.stem + ".espeak.wav")
    proc = subprocess.run([espeak, "-s", str(words_per_minute), "-w", str(raw), text], capture_output=True, timeout=60)
    if proc.returncode != 0 or not raw.is_file():
        raise InputError(f"espeak-ng failed: {proc.stderr.decode(errors='replace').strip()[-200:]}")
    cmd = [media.tool("ffmpeg"), "-v", "error", "-nostdin", "-y", "-i", str(raw), "-ac", "1", "-ar", str(rate)]
    cmd.append(str(out))
    conv = subprocess.run(cmd, capture_output=True, timeout=60)
    raw.unlink(missing_ok=True)
    if conv.returncode != 0:
        raise InputError(f"ffmpeg could not convert the speech: {conv.stderr.decode(errors='replace')[-200:]}")
    return out
