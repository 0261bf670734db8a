"""How fast the verifier judges a clip on one core, against decoding the same clip alone.

Target: >= 25 analysed frames per second on one core (faster than real time at 25 fps).
The baseline, measured in the same run on the same core, is ffmpeg decoding the clip to raw grey
frames and nothing else: the floor any verifier that reads every frame pays.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

from bench._timing import median_seconds

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))  # clips.py: test material

TARGET_FPS = 25.0


def _one_core() -> str:
    # Pin this process (and the ffmpeg it starts) to one core, and keep BLAS to one thread.
    os.environ.update(OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    if hasattr(os, "sched_setaffinity"):
        core = sorted(os.sched_getaffinity(0))[0]
        os.sched_setaffinity(0, {core})
        return f"core {core}"
    return "all cores (no sched_setaffinity here)"


def main(repeat: int = 3) -> None:
    where = _one_core()
    from clips import make_clip

    from envdoctor.smoke import inputs
    from envdoctor.verify import media
    from envdoctor.verify.verify import ANALYSIS_SIZE, verify

    with tempfile.TemporaryDirectory(prefix="bench-verify-") as tmp:
        root = Path(tmp)
        speech = inputs.write_speech(root / "speech.wav")
        clip = make_clip("synced", inputs.astronaut_rgb(), speech, root / "synced.mp4")
        info = media.probe(clip)
        w, h = media.scaled_size(info.width, info.height, ANALYSIS_SIZE)
        frames = len(media.read_gray_frames(clip, w, h))

        def decode_only() -> None:
            subprocess.run(
                [
                    media.tool("ffmpeg"),
                    "-v",
                    "error",
                    "-i",
                    str(clip),
                    "-vf",
                    f"scale={w}:{h}:flags=area",
                    "-f",
                    "rawvideo",
                    "-pix_fmt",
                    "gray",
                    "-",
                ],
                capture_output=True,
                check=True,
            )

        verdicts = []

        def judge() -> None:
            verdicts.append(verify(clip, speech).verdict.value)

        judge()  # warm-up: the cascade file and numpy's first calls
        base = median_seconds(decode_only, repeat)
        full = median_seconds(judge, repeat)
    fps = frames / full
    print(
        f"verifier on {where}: {frames} frames of {info.width}x{info.height} ({frames / info.fps:.1f} s at "
        f"{info.fps:g} fps), verdict {verdicts[-1]}"
    )
    print(f"  baseline, ffmpeg decode only: {frames / base:8.1f} frames/s  ({base:.2f} s)")
    print(f"  verify (decode+face+mouth+sync): {fps:8.1f} frames/s  ({full:.2f} s)")
    print(f"  verify / decode-only time: {full / base:.1f}x;  real-time factor: {fps / info.fps:.1f}x")
    print(f"  target >= {TARGET_FPS:g} frames/s: {'met' if fps >= TARGET_FPS else 'NOT met'}")


if __name__ == "__main__":
    main()
