"""`smoke` checks its inputs, tools and disk first: a bad input ends it before any weight is written."""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

import pytest

pytest.importorskip("numpy", reason="smoke needs envdoctor's `verify` extra (numpy)")
pytest.importorskip("skimage", reason="smoke needs envdoctor's `verify` extra (scikit-image)")

from envdoctor.errors import UsageError
from envdoctor.smoke import inputs, models, preflight
from envdoctor.tools.ffmpeg import own_ffmpeg

if own_ffmpeg() is None:
    pytest.skip("no ffmpeg: put one on PATH or install the test extra (imageio-ffmpeg)", allow_module_level=True)


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    """Only what `smoke --app` looks for before its heavy steps."""
    app = tmp_path / "MuseTalk"
    (app / "scripts").mkdir(parents=True)
    (app / "scripts" / "inference.py").write_text("raise SystemExit('never run by these tests')\n")
    return app


@pytest.fixture
def scratch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The temporary folder smoke writes its synthetic weights into, watched by the test."""
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp))
    return tmp


def _weights_written(scratch: Path) -> list[Path]:
    return list(scratch.glob("envdoctor-synthetic-models-*"))


def test_a_face_that_is_no_image_stops_smoke_before_any_weight(cli, checkout, scratch, tmp_path) -> None:
    face = tmp_path / "face.png"
    face.write_text("not a picture\n")
    out = tmp_path / "out"
    run = cli(
        "smoke",
        "--app",
        str(checkout),
        "--synthetic-weights",
        "--python",
        sys.executable,
        "--face",
        str(face),
        "--out",
        str(out),
    )
    assert run.code == 2
    assert "smoke cannot start" in run.err
    assert f"--face {face} is no image or video" in run.err or f"--face {face} holds no picture" in run.err
    assert _weights_written(scratch) == []
    assert not (out / "smoke-report.json").exists()


def test_speech_without_sound_and_a_missing_face_are_said_together(cli, checkout, scratch, tmp_path) -> None:
    silent = tmp_path / "speech.png"  # a picture given as speech
    inputs.write_face(silent)
    run = cli(
        "smoke",
        "--app",
        str(checkout),
        "--synthetic-weights",
        "--python",
        sys.executable,
        "--audio",
        str(silent),
        "--out",
        str(tmp_path / "out"),
    )
    assert run.code == 2
    assert f"--audio {silent} holds no sound" in run.err
    assert _weights_written(scratch) == []


def test_too_little_disk_for_the_synthetic_weights_is_refused_up_front(scratch, monkeypatch) -> None:
    free = shutil.disk_usage(scratch).free
    monkeypatch.setattr(models, "synthetic_bytes_needed", lambda: free + 2**40)  # more than this disk has
    with pytest.raises(UsageError, match=r"the synthetic weights need [\d.]+ GiB free in .* \(set TMPDIR"):
        preflight.check(Path(sys.executable), face=None, audio=None, synthetic_weights=True, weights_dir=scratch)
    assert _weights_written(scratch) == []


def test_the_built_in_inputs_need_no_espeak_ng(scratch, monkeypatch) -> None:
    # A PATH with nothing on it: the speech clip ships with envdoctor, ffmpeg is PATH's or the wheel's.
    empty = scratch / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    found = preflight.check(
        Path(sys.executable), face=None, audio=None, synthetic_weights=True, weights_dir=scratch / "not-made-yet"
    )
    assert found.face_size == preflight.DEFAULT_FACE_SIZE and found.ffmpeg
    assert found.free_bytes is not None and found.free_bytes > 0
    wav = inputs.write_speech(scratch / "speech.wav")
    from envdoctor.verify import media

    info = media.probe(wav)
    assert info.has_audio and not info.has_video and 6.0 < info.duration < 7.5
