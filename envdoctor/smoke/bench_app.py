"""`smoke --bench`: run the stage timer (probes/smoke/bench_stages.py) in the target, from the checkout,
on the shipped face and speech, and read its timings as a bench.Run. The verdict is bench.verdict's."""

from __future__ import annotations

import shutil
import wave
from pathlib import Path

from envdoctor.errors import EnvdoctorError
from envdoctor.inside import InsideError, TimedOut, run_json
from envdoctor.resources import smoke_script
from envdoctor.smoke import bench, inputs
from envdoctor.smoke.runner import scratch_dir, shadow_checkout

INSIDE = smoke_script("bench_stages")
DEFAULT_SECONDS = 1.0
"""Speech per pass: 25 frames at 25 fps, enough for three batches of 8 and a short last one."""


class BenchFailed(EnvdoctorError):
    code = "bench-failed"
    exit_code = 1


def cut_wav(src: Path, out: Path, seconds: float) -> Path:
    """The first `seconds` of a PCM wav (the shipped speech is already MuseTalk's 16 kHz mono)."""
    with wave.open(str(src), "rb") as r:
        params = r.getparams()
        frames = r.readframes(min(r.getnframes(), int(seconds * r.getframerate())))
    with wave.open(str(out), "wb") as w:
        w.setparams(params)
        w.writeframes(frames)
    return out


def run_bench(
    python: Path,
    checkout: Path,
    *,
    models: Path,
    face: Path | None = None,
    audio: Path | None = None,
    seconds: float = DEFAULT_SECONDS,
    device: str = "auto",
    fp16: str = "auto",
    batch_size: int = 8,
    passes: int = 4,
    timeout: float = 1800.0,
    env: dict[str, str] | None = None,
) -> bench.Run:
    """Raises BenchFailed with the probe's own error when MuseTalk could not be timed."""
    work = scratch_dir()
    try:
        face_path = face or inputs.write_face(work / "face.png")
        speech = audio or inputs.write_speech(work / "speech.wav")
        if audio is None:
            speech = cut_wav(speech, work / "speech-cut.wav", seconds)
        cwd = checkout
        if models.resolve() != (checkout / "models").resolve():
            # MuseTalk reads every weight from ./models: run from a shadow whose models/ is the weights folder.
            cwd = shadow_checkout(checkout, models.resolve(), work / "checkout")
        args = [
            str(INSIDE),
            "--face",
            str(face_path.resolve()),
            "--audio",
            str(speech.resolve()),
            "--device",
            device,
            "--fp16",
            fp16,
            "--batch-size",
            str(batch_size),
            "--passes",
            str(passes),
        ]
        try:
            ran = run_json(python, args, what="the stage timer", cwd=cwd, timeout=timeout, env=env)
        except TimedOut:
            raise BenchFailed(f"timing MuseTalk's stages took longer than {timeout:g} s.") from None
        except InsideError as exc:
            raise BenchFailed(f"the stage timer did not report: {exc}.") from None
        if "error" in ran.data:
            raise BenchFailed(f"MuseTalk's stages could not be timed: {ran.data['error']}.")
        return bench.run_from_json(ran.data)
    finally:
        shutil.rmtree(work, ignore_errors=True)
