"""`smoke --app`: inputs, the MuseTalk run, the verification of its video, the report. One call."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from envdoctor.explain import Explained, explain_file
from envdoctor.smoke import inputs, record
from envdoctor.smoke.runner import AppRun, run_app
from envdoctor.verify import media, region
from envdoctor.verify.verdicts import RegionSource, VideoVerification
from envdoctor.verify.verify import verify


@dataclass(frozen=True)
class AppSmoke:
    success: bool
    message: str
    run: AppRun
    verification: VideoVerification | None
    face: str
    audio: str
    synthetic_weights: bool
    report_path: str
    explanation: Explained | None = None
    """What `envdoctor explain` finds in MuseTalk's log when the run failed (None when it passed)."""


def judge_run(run: AppRun, verification: VideoVerification | None, synthetic: bool) -> tuple[bool, str]:
    """Success and one message, from the video alone (the exit code only explains a failure)."""
    if run.timed_out:
        return False, f"MuseTalk did not finish within the timeout ({run.seconds:.0f} s); see {run.log}."
    if run.output is None:
        why = f" It reported: {run.swallowed_errors[-1]}" if run.swallowed_errors else ""
        code = f"exited {run.exit_code}" if run.exit_code is not None else "stopped"
        return False, f"MuseTalk {code} but wrote no video ({Path(run.expected_output).name}).{why} Log: {run.log}."
    assert verification is not None
    prefix = "MuseTalk wrote a video."
    if run.exit_code not in (0, None):
        prefix = f"MuseTalk wrote a video but exited {run.exit_code}."
    generated = verification.region_source in (RegionSource.DIFFERENCE, RegionSource.CROP)
    if synthetic and verification.success and generated:
        prefix += (
            " Weights are synthetic: what is proven is that MuseTalk's code ran end to end and the region it"
            " generated changes from frame to frame; lip-sync not assessed (synthetic weights)."
        )
    elif synthetic:
        prefix += " Weights are synthetic: lip-sync not assessed (synthetic weights)."
    return verification.success, record.message_for(verification, prefix)


def smoke_app(
    python: Path,
    app: Path,
    out_dir: Path,
    *,
    models: Path | None = None,
    face: Path | None = None,
    audio: Path | None = None,
    seconds: float | None = None,
    timeout: float = 1800.0,
    synthetic_weights: bool = False,
    env: dict[str, str] | None = None,
    on_line: Callable[[str], None] | None = None,
    weights: dict[str, Any] | None = None,
) -> AppSmoke:
    """`weights`: the check of the real weights made before the run (WeightsCheck.to_dict()), for the report."""
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="envdoctor-inputs-") as tmp:
        tmpd = Path(tmp)
        face_path = face or inputs.write_face(tmpd / "face.png")
        audio_path = audio or inputs.write_speech(tmpd / "speech.wav")
        if seconds:
            audio_path = media.to_mono_wav(audio_path, tmpd / "speech-cut.wav", seconds=seconds)
        # Keep the inputs beside the report: the verdict can be re-checked with `envdoctor verify`.
        kept_face = out_dir / f"input-face{face_path.suffix}"
        kept_audio = out_dir / f"input-speech{audio_path.suffix}"
        shutil.copyfile(face_path, kept_face)
        shutil.copyfile(audio_path, kept_audio)
    run = run_app(python, app, kept_face, kept_audio, out_dir, models=models, timeout=timeout, env=env, on_line=on_line)
    verification = None
    if run.output is not None:
        # envdoctor made the input, so the region MuseTalk generated is known: measured there, not
        # wherever a face detector lands on the output.
        try:
            generated = region.locate(Path(run.output), kept_face, run.crop_boxes, run.extra_margin)
        except media.MediaError:
            generated = None  # the output does not decode: verify says so as a failed check
        verification = verify(
            Path(run.output),
            kept_audio,
            assess_sync=not synthetic_weights,
            not_assessed_reason="not assessed (synthetic weights)",
            region=generated,
        )
    success, message = judge_run(run, verification, synthetic_weights)
    explanation = None
    if not success:
        # MuseTalk prints the exception and carries on: its log says why, in the explainer's words.
        explanation = explain_file(Path(run.log))
        message += explained_sentence(explanation)
    record.write_report(
        out_dir,
        success=success,
        output_path=run.output,
        message=message,
        verification=verification,
        extra={
            "mode": "app",
            "synthetic_weights": synthetic_weights,
            "face": str(kept_face),
            "audio": str(kept_audio),
            "run": run.to_dict(),
            "explanation": [f.to_dict() for f in explanation.findings] if explanation else [],
            **({"weights": weights} if weights is not None else {}),
        },
    )
    return AppSmoke(
        success=success,
        message=message,
        run=run,
        verification=verification,
        face=str(kept_face),
        audio=str(kept_audio),
        synthetic_weights=synthetic_weights,
        report_path=str(out_dir / record.REPORT_JSON),
        explanation=explanation,
    )


def explained_sentence(explanation: Explained) -> str:
    """The root failure of the log as one sentence to append to the verdict ("" when none is known)."""
    root = explanation.root
    if root is None:
        return ""
    kind = "" if root.environment else " (not an environment problem)"
    more = len(explanation.findings) - 1
    also = f" ({more} more in the log: `envdoctor explain` on it lists them.)" if more else ""
    return f" Cause{kind}: {root.title}: {root.cause}. Fix: {root.fix}.{also}"
