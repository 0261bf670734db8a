"""The verifier's time per minute of video for 1-, 5- and 30-minute clips: linear means flat.

verify streams its frames, so its time grows linearly with the clip's length (it used to
grow with the square, and a 30-minute clip ran out of memory). The clips are 256x256 at 25 fps,
made from ffmpeg's own sources (one minute encoded, longer clips joined from it). The baseline,
measured in the same run, is ffmpeg decoding the same clip to raw grey frames: the floor any
verifier that reads every frame pays (verify decodes twice). Peak memory is the child's max RSS.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))  # clips.py: test material

MINUTES = (1, 5, 30)

_VERIFY = """
import json, sys
from envdoctor.verify.verify import verify
r = verify(sys.argv[1])
print(json.dumps({"verdict": r.verdict.value, "frames": r.frames}))
"""


def _timed(cmd: list[str]) -> tuple[float, int, str]:
    """Wall seconds, peak RSS in MB of this child alone, and its stdout.

    RUSAGE_CHILDREN holds the largest child this process ever waited for (under `make bench`, one that
    imported torch), so the child's own rusage is read with wait4."""
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, text=True, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if proc.returncode != 0:
            raise subprocess.CalledProcessError(proc.returncode, cmd, out.read(), err.read())
        per_mb = 1024 * 1024 if sys.platform == "darwin" else 1024  # macOS counts bytes, Linux KiB
        return seconds, usage.ru_maxrss // per_mb, out.read()


def main() -> None:
    from clips import long_clip

    from envdoctor.smoke import inputs
    from envdoctor.verify import media

    with tempfile.TemporaryDirectory(prefix="bench-verify-long-") as tmp:
        root = Path(tmp)
        face = inputs.write_face(root / "face.png")
        rows = []
        for minutes in MINUTES:
            clip = long_clip(face, minutes * 60, root / f"{minutes}min.mp4")
            decode, _, _ = _timed(
                [
                    media.tool("ffmpeg"),
                    "-v",
                    "error",
                    "-i",
                    str(clip),
                    "-f",
                    "rawvideo",
                    "-pix_fmt",
                    "gray",
                    "-y",
                    "/dev/null",
                ]
            )
            full, peak, out = _timed([sys.executable, "-c", _VERIFY, str(clip)])
            rows.append((minutes, decode, full, peak, json.loads(out)))
            clip.unlink()
    first = rows[0][2] / rows[0][0]
    print("verify on 256x256 clips at 25 fps (one BLAS thread):")
    for minutes, decode, full, peak, out in rows:
        per_minute = full / minutes
        print(
            f"  {minutes:2d} min: {per_minute:6.2f} s per minute of video ({full:7.1f} s, {out['frames']} frames, "
            f"verdict {out['verdict']}, peak RSS ~{peak} MB); ffmpeg decode alone {decode / minutes:5.2f} s/min; "
            f"ratio to the 1-minute rate {per_minute / first:4.2f}"
        )
    print("  linear: the ratios stay near 1 (the 1-minute clip carries the fixed start-up cost)")
