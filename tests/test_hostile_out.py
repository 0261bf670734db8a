"""Output folders are checked before any work, and Ctrl-C during `smoke` stops MuseTalk's whole process group."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from envdoctor.outdir import check_writable
from envdoctor.tools.ffmpeg import own_ffmpeg


def _one_sentence(err: str) -> None:
    lines = [ln for ln in err.strip().splitlines() if ln.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("envdoctor: ") and "internal error" not in err and "Traceback" not in err, err


@pytest.fixture
def unwritable(tmp_path: Path) -> Path:
    """A folder this process cannot write into (root ignores file modes: then a kernel folder)."""
    if os.geteuid() != 0:
        locked = tmp_path / "locked"
        locked.mkdir()
        locked.chmod(0o555)
        return locked / "report"
    return Path("/sys/kernel/envdoctor-report")


def test_check_writable_accepts_a_new_folder_and_creates_nothing(tmp_path: Path) -> None:
    wanted = tmp_path / "a" / "b"
    assert check_writable(wanted) == wanted
    assert not (tmp_path / "a").exists() and list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("command", ["verify", "smoke"])
def test_out_that_is_a_file_is_one_sentence_and_exit_2(command: str, tmp_path: Path, cli) -> None:
    video = tmp_path / "clip.mp4"
    video.write_bytes(b"not judged: the --out check comes first")
    out = tmp_path / "report.txt"
    out.write_text("a file")
    args = ["verify", str(video)] if command == "verify" else ["smoke", "--deps", "--python", sys.executable]
    run = cli(*args, "--out", str(out))
    assert run.code == 2
    _one_sentence(run.err)
    assert "is a file, not a folder" in run.err
    assert out.read_text() == "a file"
    below = cli(*args, "--out", str(out / "sub"))
    assert below.code == 2 and "is a file, not a folder" in below.err


@pytest.mark.parametrize("command", ["verify", "smoke"])
def test_out_that_is_not_writable_is_one_sentence_and_exit_2(
    command: str, tmp_path: Path, unwritable: Path, cli
) -> None:
    video = tmp_path / "clip.mp4"
    video.write_bytes(b"x")
    args = ["verify", str(video)] if command == "verify" else ["smoke", "--deps", "--python", sys.executable]
    run = cli(*args, "--out", str(unwritable))
    assert run.code == 2
    _one_sentence(run.err)
    assert "is not writable" in run.err


_SLEEPY_MUSETALK = """
import os, subprocess, sys, time
from pathlib import Path
child = subprocess.Popen(["sleep", "600"])  # like the ffmpeg MuseTalk starts
Path(os.environ["PIDS_FILE"]).write_text(f"{os.getpid()} {child.pid}")
print("loading models", flush=True)
time.sleep(600)
"""


def _gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return True
    return state in ("Z", "X")  # a zombie has stopped; only its parent's wait is missing


@pytest.mark.skipif(
    own_ffmpeg() is None or not shutil.which("sleep"),
    reason="needs ffmpeg (on PATH, or the test extra's imageio-ffmpeg) and sleep",
)
def test_ctrl_c_during_smoke_stops_musetalks_whole_process_group(tmp_path: Path) -> None:
    pytest.importorskip("numpy", reason="smoke needs envdoctor's `verify` extra")
    pytest.importorskip("skimage", reason="smoke needs envdoctor's `verify` extra")
    from standin import placeholder_weights

    app = tmp_path / "MuseTalk"
    (app / "scripts").mkdir(parents=True)
    (app / "scripts" / "__init__.py").write_text("")
    (app / "scripts" / "inference.py").write_text(_SLEEPY_MUSETALK)
    # Placeholders the weights check passes (a manifest of their own): the stand-in loads no weights.
    manifest = placeholder_weights(app / "models", tmp_path / "torch-home", tmp_path / "manifest.toml")
    speech = tmp_path / "speech.wav"
    ffmpeg = own_ffmpeg()
    assert ffmpeg is not None
    subprocess.run(
        [ffmpeg[0], "-v", "error", "-y", "-f", "lavfi", "-i", "sine=frequency=200:duration=2", str(speech)], check=True
    )
    pids_file = tmp_path / "pids"
    repo = Path(__file__).resolve().parent.parent
    # Relative paths on purpose (the interpreter, the checkout, the speech, --out): they must work too.
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "envdoctor",
            "smoke",
            "--app",
            "MuseTalk",
            "--audio",
            "speech.wav",
            "--python",
            os.path.relpath(sys.executable, tmp_path),
            "--out",
            "out",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
        env={
            **os.environ,
            "PIDS_FILE": str(pids_file),
            "PYTHONPATH": str(repo),
            "ENVDOCTOR_MODELS_MANIFEST": str(manifest),
            "TORCH_HOME": str(tmp_path / "torch-home"),
        },
    )
    try:
        for _ in range(600):
            if pids_file.is_file() and pids_file.read_text().strip():
                break
            if proc.poll() is not None:
                break
            time.sleep(0.2)
        assert pids_file.is_file(), proc.communicate(timeout=30)
        app_pid, child_pid = (int(x) for x in pids_file.read_text().split())
        assert not _gone(app_pid) and not _gone(child_pid)
        proc.send_signal(signal.SIGINT)  # what Ctrl-C in the terminal sends envdoctor
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 2, err
    # Before MuseTalk started, the weights check said its one line; the interruption is one sentence after it.
    said, _, rest = err.partition("\n")
    assert said.startswith("weights: ") and "each checked by sha256" in said, err
    _one_sentence(rest)
    assert "stopped MuseTalk and every process it started" in err
    for _ in range(50):
        if _gone(app_pid) and _gone(child_pid):
            break
        time.sleep(0.1)
    assert _gone(app_pid), "MuseTalk kept running after Ctrl-C"
    assert _gone(child_pid), "a process MuseTalk started kept running after Ctrl-C"


def test_stub_generate_checks_its_outputs_first(tmp_path: Path, unwritable: Path, cli) -> None:
    afile = tmp_path / "afile"
    afile.write_text("x")
    run = cli("stub", "generate", "--mmcv-version", "2.1.0", "--output", str(afile / "_ext.py"))
    assert run.code == 2 and "is a file, not a folder" in run.err
    _one_sentence(run.err)
    run = cli("stub", "generate", "--mmcv-version", "2.1.0", "--output", str(tmp_path))
    assert run.code == 2 and "is a folder, not a file" in run.err
    run = cli("stub", "generate", "--mmcv-version", "2.1.0", "--cache", str(unwritable))
    assert run.code == 2 and "is not writable" in run.err
    _one_sentence(run.err)


def test_lock_checks_its_output_dir_before_resolving(tmp_path: Path, unwritable: Path, maint_cli) -> None:
    afile = tmp_path / "afile"
    afile.write_text("x")
    run = maint_cli("lock", "--strategy", "mmpose-free", "--output-dir", str(afile))
    assert run.code == 2 and "--output-dir" in run.err and "is a file, not a folder" in run.err
    _one_sentence(run.err)
    run = maint_cli("lock", "--strategy", "mmpose-free", "--output-dir", str(unwritable / "locks"))
    assert run.code == 2 and "is not writable" in run.err
    assert not list(tmp_path.glob("*.toml")), "nothing was resolved or written"
