"""The verifier against clips with known answers: one synced face and every negative control.

The clips are made here from the astronaut and the shipped speech clip (a jaw warp driven by the
speech envelope); each test names the verdict it proves.
"""

from __future__ import annotations

import json
import subprocess
import wave
from pathlib import Path

import pytest

pytest.importorskip("numpy", reason="the verifier needs envdoctor's `verify` extra (numpy)")
pytest.importorskip("skimage", reason="the verifier needs envdoctor's `verify` extra (scikit-image)")
from envdoctor.tools.ffmpeg import own_ffmpeg

if own_ffmpeg() is None:
    pytest.skip("no ffmpeg: put one on PATH or install the test extra (imageio-ffmpeg)", allow_module_level=True)

import clips

from envdoctor.cli import main
from envdoctor.smoke import inputs
from envdoctor.verify import media
from envdoctor.verify.verdicts import VideoVerdict
from envdoctor.verify.verify import verify

# Real environments, built with uv and run: the outer ring, left out of `make test-fast`.
pytestmark = pytest.mark.envs


@pytest.fixture(scope="module")
def material(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("verify-clips")
    speech = inputs.write_speech(root / "speech.wav")
    seconds = len(media.read_audio(speech)) / media.AUDIO_RATE
    # Other speech of the same length, so only the sync can tell them apart: the same clip played
    # backwards (the same voice and loudness, its syllables at other times).
    other = root / "other.wav"
    subprocess.run(
        [media.tool(), "-v", "error", "-y", "-i", str(speech), "-af", "areverse", "-t", f"{seconds:.4f}", str(other)],
        check=True,
    )
    image = inputs.astronaut_rgb()
    out = {"speech": speech, "other": other}
    for kind in clips.KINDS:
        out[kind] = clips.make_clip(kind, image, speech, root / f"{kind}.mp4")
    return out


@pytest.mark.parametrize(
    "kind, verdict",
    [
        ("synced", VideoVerdict.SYNCED),
        ("partial", VideoVerdict.SYNCED),
        ("static", VideoVerdict.STATIC),
        ("random", VideoVerdict.UNSYNCED),
        ("jitter", VideoVerdict.UNSYNCED),
        ("shifted", VideoVerdict.UNSYNCED),
        ("noise", VideoVerdict.NO_FACE),
    ],
)
def test_each_clip_gets_its_verdict(material: dict[str, Path], kind: str, verdict: VideoVerdict) -> None:
    result = verify(material[kind], material["speech"])
    assert result.structure_ok, result.checks
    assert result.verdict is verdict, result.reason
    assert result.success is (verdict is VideoVerdict.SYNCED)


def test_synced_clip_scores_high_near_lag_zero(material: dict[str, Path]) -> None:
    result = verify(material["synced"], material["speech"])
    assert result.sync is not None
    assert result.sync.peak_r >= 0.8
    assert abs(result.sync.lag_frames) <= 1
    assert result.sync.null_p95 is not None and result.sync.peak_r > result.sync.null_p95
    assert result.face_fraction >= 0.9


def test_one_second_shift_is_found_by_the_wide_search(material: dict[str, Path]) -> None:
    result = verify(material["shifted"], material["speech"])
    assert result.sync is not None
    assert result.sync.wide_lag_frames == pytest.approx(-25, abs=2)  # the mouth comes 1 s late
    assert result.sync.wide_peak_r >= 0.5
    assert "1.00 s away" in result.reason or "-0.9" in result.reason or "-1.0" in result.reason


def test_wrong_audio_is_unsynced(material: dict[str, Path]) -> None:
    result = verify(material["synced"], material["other"])
    assert result.structure_ok, result.checks
    assert result.verdict is VideoVerdict.UNSYNCED, result.reason


def test_default_audio_is_the_videos_own_track(material: dict[str, Path]) -> None:
    result = verify(material["synced"])
    assert result.verdict is VideoVerdict.SYNCED, result.reason


def test_truncated_video_fails_the_frame_count(material: dict[str, Path], tmp_path: Path) -> None:
    short = clips.make_clip("synced", inputs.astronaut_rgb(), material["speech"], tmp_path / "short.mp4", frames=60)
    result = verify(short, material["speech"])
    check = next(c for c in result.checks if c.name == "frame count")
    assert not check.ok and "60 frames" in check.detail
    assert not result.success


def test_video_without_audio_stream_fails_structure(material: dict[str, Path], tmp_path: Path) -> None:
    silent = tmp_path / "silent.mp4"
    subprocess.run(
        [media.tool(), "-v", "error", "-y", "-i", str(material["synced"]), "-an", "-c", "copy", str(silent)], check=True
    )
    result = verify(silent, material["speech"])
    assert not next(c for c in result.checks if c.name == "audio stream").ok
    assert result.verdict is VideoVerdict.SYNCED  # the lips still follow the given speech
    assert not result.success


def test_garbage_file_is_reported_not_raised(tmp_path: Path, material: dict[str, Path]) -> None:
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"\x00not a video" * 100)
    result = verify(junk, material["speech"])
    assert not result.structure_ok and not result.success
    missing = verify(tmp_path / "absent.mp4", material["speech"])
    assert missing.checks[0].name == "exists" and not missing.checks[0].ok


def test_cli_writes_report_and_png(material: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "report dir"
    code = main(["verify", str(material["synced"]), "--audio", str(material["speech"]), "--out", str(out)])
    assert code == 0
    report = json.loads((out / "smoke-report.json").read_text())
    assert report["success"] is True and report["output_path"] == str(material["synced"])
    assert (report["schema"], report["schema_version"]) == ("envdoctor.smoke", 1), "verify writes smoke's document"
    assert report["verification"]["verdict"] == "SYNCED"
    assert "SYNCED" in report["message"]
    png = out / "smoke-report.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    assert main(["verify", str(material["static"]), "--audio", str(material["speech"]), "--out", str(out)]) == 1
    assert json.loads((out / "smoke-report.json").read_text())["verification"]["verdict"] == "STATIC"


def test_cli_missing_video_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["verify", str(tmp_path / "nope.mp4")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_not_assessed_judges_structure_only(material: dict[str, Path]) -> None:
    moving = verify(material["random"], material["speech"], assess_sync=False, not_assessed_reason="not assessed (x)")
    assert moving.verdict is VideoVerdict.NOT_ASSESSED and moving.success and "not assessed (x)" in moving.reason
    painted_over = verify(material["noise"], material["speech"], assess_sync=False)
    assert painted_over.verdict is VideoVerdict.NOT_ASSESSED and painted_over.success
    frozen = verify(material["static"], material["speech"], assess_sync=False)
    assert frozen.verdict is VideoVerdict.STATIC and not frozen.success


def test_clip_too_short_to_score_is_not_a_success(material: dict[str, Path], tmp_path: Path) -> None:
    short_audio = tmp_path / "short.wav"
    subprocess.run(
        [media.tool(), "-v", "error", "-y", "-i", str(material["speech"]), "-t", "0.6", str(short_audio)], check=True
    )
    clip = clips.make_clip("synced", inputs.astronaut_rgb(), short_audio, tmp_path / "short.mp4")
    result = verify(clip, short_audio)
    assert result.structure_ok, result.checks
    assert result.verdict is VideoVerdict.NOT_ASSESSED and "needs at least" in result.reason
    assert not result.success


def test_missing_extra_is_said_in_one_sentence(
    material: dict[str, Path], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "skimage", None)  # as if scikit-image were not installed
    assert main(["verify", str(material["synced"]), "--out", str(material["synced"].parent / "r")]) == 2
    err = capsys.readouterr().err
    assert "scikit-image" in err and "envdoctor[verify]" in err


@pytest.mark.parametrize("vf, crf", [("null", "38"), ("scale=224:256", "23")])
def test_synced_survives_heavy_compression_and_a_small_frame(
    material: dict[str, Path], tmp_path: Path, vf: str, crf: str
) -> None:
    worse = tmp_path / "worse.mp4"
    subprocess.run(
        [
            media.tool(),
            "-v",
            "error",
            "-y",
            "-i",
            str(material["synced"]),
            "-vf",
            vf,
            "-c:v",
            "libx264",
            "-crf",
            crf,
            "-c:a",
            "copy",
            str(worse),
        ],
        check=True,
    )
    result = verify(worse, material["speech"])
    assert result.verdict is VideoVerdict.SYNCED, result.reason


def test_a_wobbling_head_is_not_speech_through_either_ffmpeg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The head-jitter control stays UNSYNCED with the wheel's ffmpeg too (its scaler differs from
    Debian's): the upper face's own motion is taken out of the mouth signal."""
    from envdoctor.tools.ffmpeg import wheel_ffmpeg

    if wheel_ffmpeg() is None:
        pytest.skip("no imageio-ffmpeg: install the test extra")
    empty = tmp_path / "no-tools"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))  # media.tool() now takes the wheel's binary
    assert media.tool() == wheel_ffmpeg()
    speech = inputs.write_speech(tmp_path / "speech.wav")
    image = inputs.astronaut_rgb()
    jitter = verify(clips.make_clip("jitter", image, speech, tmp_path / "jitter.mp4"), speech)
    assert jitter.verdict is VideoVerdict.UNSYNCED, jitter.reason
    synced = verify(clips.make_clip("synced", image, speech, tmp_path / "synced.mp4"), speech)
    assert synced.verdict is VideoVerdict.SYNCED, synced.reason


def test_to_mono_wav_cuts_and_resamples_and_names_a_bad_input(material: dict[str, Path], tmp_path: Path) -> None:
    # smoke's --seconds and the espeak-ng speech go through it: mono 16-bit PCM at the rate asked, cut when asked.
    whole = len(media.read_audio(material["speech"])) / media.AUDIO_RATE
    cut = media.to_mono_wav(material["synced"], tmp_path / "cut.wav", rate=22050, seconds=1.5)
    with wave.open(str(cut)) as w:
        assert (w.getnchannels(), w.getsampwidth(), w.getframerate()) == (1, 2, 22050)
        assert abs(w.getnframes() / 22050 - 1.5) < 0.05 < whole - 1.5
    bad = tmp_path / "not audio.wav"
    bad.write_bytes(b"\0" * 64)
    with pytest.raises(media.MediaError, match=r"not audio\.wav"):
        media.to_mono_wav(bad, tmp_path / "out.wav")
