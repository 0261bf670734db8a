"""Run MuseTalk's own `python -m scripts.inference` inside the target, and find what it wrote.

MuseTalk exits 0 even when a task failed (it prints the exception and moves on) and calls ffmpeg
through the shell with unquoted paths, so the run happens in a scratch folder whose path has no
spaces, the output is looked for where MuseTalk's naming puts it, and the verdict comes from that
file, never from the exit code.
"""

from __future__ import annotations

import codecs
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from envdoctor import process
from envdoctor.errors import UsageError
from envdoctor.tools import ffmpeg as ffmpeg_tool
from envdoctor.verify import region

VERSION = "v15"
FACE_NAME = "face"
SPEECH_NAME = "speech"
SWALLOWED = "Error occurred during processing"
# After writing the mp4 for an image input, MuseTalk's clean-up refers to a folder it only makes
# for video inputs; the message is harmless once the video exists.
KNOWN_HARMLESS = ("save_dir_full",)
EXTRA_MARGIN = 10
"""Pixels v1.5 adds below each crop box when it pastes the generated face: passed explicitly (it is
MuseTalk's default too) so the region envdoctor bounds the generated pixels with is the one it used."""


@dataclass(frozen=True)
class AppRun:
    command: tuple[str, ...]
    cwd: str
    exit_code: int | None
    """None when the run was stopped at the timeout."""
    seconds: float
    timed_out: bool
    log: str
    expected_output: str
    output: str | None
    """The video MuseTalk wrote (copied next to the report), or None."""
    swallowed_errors: tuple[str, ...]
    """Lines where MuseTalk caught an exception and carried on."""
    notes: tuple[str, ...] = field(default=())
    crop_boxes: tuple[region.CropBox, ...] | None = None
    """The crop box of every frame, from the coordinates file MuseTalk saved (None when it saved none)."""
    extra_margin: int = EXTRA_MARGIN

    def to_dict(self) -> dict[str, object]:
        return {
            "command": list(self.command),
            "cwd": self.cwd,
            "exit_code": self.exit_code,
            "seconds": round(self.seconds, 1),
            "timed_out": self.timed_out,
            "log": self.log,
            "expected_output": self.expected_output,
            "output": self.output,
            "swallowed_errors": list(self.swallowed_errors),
            "notes": list(self.notes),
            "crop_boxes": None if self.crop_boxes is None else len(self.crop_boxes),
            "extra_margin": self.extra_margin,
        }


def check_app(app: Path) -> Path:
    app = app.resolve()
    if not (app / "scripts" / "inference.py").is_file():
        raise UsageError(f"{app} is not a MuseTalk checkout: it has no scripts/inference.py.")
    return app


def scratch_dir() -> Path:
    """A fresh folder whose path has no spaces (MuseTalk's shell calls split on them)."""
    base = Path(tempfile.gettempdir())
    if " " in str(base):
        base = Path("/tmp")
    return Path(tempfile.mkdtemp(prefix="envdoctor-smoke-", dir=base))


def shadow_checkout(app: Path, models: Path, where: Path) -> Path:
    """A folder of links to the checkout's entries, with models/ linked to `models` instead."""
    where.mkdir(parents=True)
    for entry in app.iterdir():
        if entry.name != "models":
            (where / entry.name).symlink_to(entry, target_is_directory=entry.is_dir())
    (where / "models").symlink_to(models, target_is_directory=True)
    return where


def write_config(path: Path, video: Path, audio: Path) -> Path:
    # One task, paths double-quoted: YAML (OmegaConf) reads them as plain strings.
    path.write_text(f'task_0:\n  video_path: "{video}"\n  audio_path: "{audio}"\n', encoding="utf-8")
    return path


def output_name(video: Path, audio: Path) -> str:
    """MuseTalk's naming: the part of each file name before its first dot, joined by '_'."""
    return f"{video.name.split('.')[0]}_{audio.name.split('.')[0]}.mp4"


def inference_command(
    python: Path, config: Path, result_dir: Path, models: Path, *, extra: tuple[str, ...] = ()
) -> list[str]:
    # The defaults of --unet_config and --inference_config point at files that do not exist:
    # always pass both (docs/smoke.md).
    return [
        str(python),
        "-m",
        "scripts.inference",
        "--inference_config",
        str(config),
        "--result_dir",
        str(result_dir),
        "--unet_model_path",
        str(models / "musetalkV15" / "unet.pth"),
        "--unet_config",
        str(models / "musetalkV15" / "musetalk.json"),
        "--whisper_dir",
        str(models / "whisper"),
        "--version",
        VERSION,
        "--fps",
        "25",
        # Keep the per-frame crop boxes (<result_dir>/../<input stem>.pkl): they bound the generated region.
        "--saved_coord",
        "--extra_margin",
        str(EXTRA_MARGIN),
        *extra,
    ]


def run_app(
    python: Path,
    app: Path,
    face: Path,
    audio: Path,
    out_dir: Path,
    *,
    models: Path | None = None,
    timeout: float = 1800.0,
    env: dict[str, str] | None = None,
    extra_args: tuple[str, ...] = (),
    on_line: Callable[[str], None] | None = None,
) -> AppRun:
    """Run the inference once in a scratch folder and copy the video it wrote into `out_dir`."""
    app = check_app(app)
    models = (models or app / "models").resolve()
    notes: list[str] = []
    out_dir.mkdir(parents=True, exist_ok=True)
    work = scratch_dir()
    try:
        # Plain names without dots or spaces: the output name is predictable and the shell is happy.
        face_in = work / f"{FACE_NAME}{face.suffix.lower() or '.png'}"
        audio_in = work / f"{SPEECH_NAME}{audio.suffix.lower() or '.wav'}"
        shutil.copyfile(face, face_in)
        shutil.copyfile(audio, audio_in)
        config = write_config(work / "smoke.yaml", face_in, audio_in)
        result_dir = work / "results"
        expected = result_dir / VERSION / output_name(face_in, audio_in)
        cwd = app
        if models != (app / "models").resolve() or " " in str(app):
            # MuseTalk reads DWPose, the VAE and face parsing from ./models: run from a shadow of the
            # checkout (links to every entry, models/ pointing at the weights) in the scratch folder.
            cwd = shadow_checkout(app, models, work / "checkout")
            notes.append(f"ran from a shadow of the checkout at {cwd} with models/ -> {models}")
        cmd = inference_command(python, config, result_dir, models, extra=extra_args)
        log_path = out_dir / "smoke-app.log"
        started = time.monotonic()
        with ffmpeg_tool.lent_to(python) as lent:
            if lent.note:
                notes.append(lent.note)
            exit_code, timed_out, lines = _run_logged(cmd, cwd, log_path, timeout, {**(env or {}), **lent.env}, on_line)
        seconds = time.monotonic() - started
        swallowed = tuple(ln.strip() for ln in lines if SWALLOWED in ln)
        output: Path | None = None
        if expected.is_file() and expected.stat().st_size > 0:
            output = out_dir / expected.name
            shutil.copyfile(expected, output)
        else:
            others = sorted(p for p in (result_dir / VERSION).glob("*.mp4") if not p.name.startswith("temp_"))
            if others:
                notes.append(f"no {expected.name}; took {others[0].name}, the other mp4 the run wrote")
                output = out_dir / others[0].name
                shutil.copyfile(others[0], output)
        if output is not None:
            notes += [
                f"known MuseTalk quirk after the video was written (harmless): {err}"
                for err in swallowed
                if any(k in err for k in KNOWN_HARMLESS)
            ]
        crop_boxes = None
        coords = work / f"{FACE_NAME}.pkl"
        if coords.is_file():
            try:
                crop_boxes = region.read_crop_boxes(coords)
            except region.CoordinatesError as exc:
                notes.append(f"MuseTalk's crop coordinates were not used: {exc}")
        elif output is not None:
            notes.append(f"MuseTalk saved no crop coordinates ({coords.name}): the generated region is not bounded")
        return AppRun(
            command=tuple(cmd),
            cwd=str(app),
            exit_code=exit_code,
            seconds=seconds,
            timed_out=timed_out,
            log=str(log_path),
            expected_output=str(expected),
            output=str(output) if output else None,
            swallowed_errors=swallowed,
            notes=tuple(notes),
            crop_boxes=crop_boxes,
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)


class Interrupted(KeyboardInterrupt):
    """Ctrl-C while the app ran: its whole process group was stopped; the message says so."""


def _run_logged(
    cmd: list[str],
    cwd: Path,
    log_path: Path,
    timeout: float,
    env: dict[str, str] | None,
    on_line: Callable[[str], None] | None,
) -> tuple[int | None, bool, list[str]]:
    """Run with output to a log file, feeding each line to `on_line`; stop the whole group at the timeout."""
    lines: list[str] = []
    with open(log_path, "w", encoding="utf-8", errors="replace") as log:
        # Its own process group (envdoctor.process): a timeout or Ctrl-C stops the ffmpeg it started too.
        child = process.Child(
            cmd,
            cwd=cwd,
            env={**(env or {}), "PYTHONUNBUFFERED": "1"},
            stdout=process.PIPE,
            stderr=process.STDOUT,
        )
        assert child.popen.stdout is not None
        output = process.Reader(child.popen.stdout)
        deadline = time.monotonic() + timeout
        try:
            timed_out, pending = _follow(output, lambda: child.poll() is not None, deadline, log, lines, on_line)
        except KeyboardInterrupt:
            # The app runs in a group of its own, so the terminal's Ctrl-C never reached it: stop it here.
            child.stop(grace=10.0)
            output.close()
            log.write(f"\n[envdoctor] interrupted (Ctrl-C): stopped process group {child.pid}\n")
            raise Interrupted(
                f"interrupted: stopped MuseTalk and every process it started (process group {child.pid})"
            ) from None
        if timed_out:
            child.timed_out = True
            child.stop(grace=10.0)
            output.close()
            log.write(f"\n[envdoctor] stopped after the {timeout:g} s timeout\n")
            return None, True, lines
        if pending.strip():
            lines.append(pending)
        output.close(0)  # a child the app left behind may still hold the pipe: not our business any more
        return child.wait(), False, lines


def _follow(
    output: process.Reader,
    ended: Callable[[], bool],
    deadline: float,
    log: TextIO,
    lines: list[str],
    on_line: Callable[[str], None] | None,
) -> tuple[bool, str]:
    """Copy the app's output to the log and to `on_line` until it ends (False) or the deadline passes
    (True); also the unfinished last line."""
    pending = ""
    # A multi-byte character may straddle two reads.
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return True, pending
        try:
            raw = output.read(min(left, 1.0))
        except TimeoutError:
            if ended():  # a child it left behind may hold the pipe open: the app's own end is the end
                break
            continue
        if raw is None:
            break
        chunk = decoder.decode(raw)
        log.write(chunk)
        log.flush()
        pending += chunk
        # tqdm redraws with carriage returns: treat them as line ends for the progress display.
        parts = pending.replace("\r", "\n").split("\n")
        pending = parts.pop()
        for part in parts:
            if part.strip():
                lines.append(part)
                if on_line:
                    on_line(part)
    return False, pending
