"""`smoke --app` against a stand-in MuseTalk checkout written here.

The stand-in's scripts/inference.py follows MuseTalk's command line, YAML and output naming, and,
like MuseTalk, catches every error inside a task and exits 0. Its file standin-mode.txt picks what
it does: write a synced video, a static one, a truncated one, or nothing at all.
"""

from __future__ import annotations

import json
import shutil
import sys
import textwrap
from pathlib import Path

import pytest
from standin import placeholder_weights

pytest.importorskip("numpy", reason="the verifier needs envdoctor's `verify` extra (numpy)")
pytest.importorskip("skimage", reason="the verifier needs envdoctor's `verify` extra (scikit-image)")
from envdoctor.tools.ffmpeg import own_ffmpeg

if own_ffmpeg() is None:
    pytest.skip("no ffmpeg: put one on PATH or install the test extra (imageio-ffmpeg)", allow_module_level=True)

from envdoctor.cli import main
from envdoctor.explain import explain_file
from envdoctor.models.manifest import builtin
from envdoctor.smoke import app as app_mod
from envdoctor.smoke import models, runner
from envdoctor.verify.verdicts import VideoVerdict

# Real environments, built with uv and run: the outer ring, left out of `make test-fast`.
pytestmark = pytest.mark.envs

HERE = Path(__file__).resolve().parent

STANDIN = '''
"""A stand-in for MuseTalk's scripts/inference.py (test material, not MuseTalk's code)."""
import argparse
import os
import sys
from pathlib import Path

sys.path[:0] = TEST_PATHS  # the running tests' folder (clips.py) and the envdoctor under test


def read_tasks(path):
    tasks, current = {}, None
    for line in open(path, encoding="utf-8"):
        if not line.strip():
            continue
        if not line.startswith(" "):
            current = tasks.setdefault(line.strip().rstrip(":"), {})
        else:
            key, _, value = line.strip().partition(":")
            current[key.strip()] = value.strip().strip('"')
    return tasks


def main():
    p = argparse.ArgumentParser()
    for flag in ("--inference_config", "--result_dir", "--unet_model_path", "--unet_config", "--whisper_dir",
                 "--version", "--ffmpeg_path", "--vae_type"):
        p.add_argument(flag)
    p.add_argument("--fps", type=int, default=25)
    p.add_argument("--extra_margin", type=int, default=10)
    p.add_argument("--saved_coord", action="store_true")
    args = p.parse_args()
    mode = (Path(__file__).resolve().parent.parent / "standin-mode.txt").read_text().strip()
    if mode == "nomusetalk":  # as MuseTalk's first import does when `musetalk` is not importable
        from musetalk.utils.utils import get_file_type  # noqa: F401
    for name, task in read_tasks(args.inference_config).items():
        try:
            video, audio = task["video_path"], task["audio_path"]
            for path in (video, audio, args.result_dir):
                if " " in path:  # MuseTalk hands unquoted paths to the shell
                    raise RuntimeError(f"ffmpeg: {path.split(' ')[0]}: No such file or directory")
            out_dir = os.path.join(args.result_dir, args.version)
            os.makedirs(out_dir, exist_ok=True)
            stem = lambda p: os.path.basename(p).split(".")[0]
            out = os.path.join(out_dir, f"{stem(video)}_{stem(audio)}.mp4")
            print("Starting inference", flush=True)
            if mode == "nothing":
                raise ZeroDivisionError("division by zero")
            import clips
            from envdoctor.verify import media
            info = media.probe(Path(video))
            image = media.read_rgb_frame(Path(video), 0, info.width, info.height)
            seconds = len(media.read_audio(Path(audio))) / media.AUDIO_RATE
            frames = int(seconds * args.fps) // 2 if mode == "truncated" else None
            kind = "static" if mode == "static" else "synced"
            clips.make_clip(kind, image, Path(audio), Path(out), fps=args.fps, frames=frames)
            # Like MuseTalk: a crop box per frame beside the result folder, numpy scalars in a pickle.
            import pickle
            import numpy as np
            from envdoctor.verify import face
            gray = (image.astype(np.float32) @ np.array([0.299, 0.587, 0.114], dtype=np.float32)).astype(np.uint8)
            b = face.detect(gray)
            crop = (np.int32(b.x), np.int32(b.y + b.h // 2), np.int32(b.x + b.w), np.int32(b.y + 3 * b.h // 2))
            coords = os.path.join(args.result_dir, "../", stem(video) + ".pkl")
            with open(coords, "wb") as f:
                pickle.dump([crop] * (frames or int(seconds * args.fps)), f)
            if not args.saved_coord:
                os.remove(coords)
            print(f"Results saved to {out}", flush=True)
            raise NameError("cannot access local variable 'save_dir_full' where it is not associated with a value")
        except Exception as e:
            print("Error occurred during processing:", e, flush=True)


if __name__ == "__main__":
    main()
'''


def make_checkout(root: Path, mode: str) -> Path:
    app = root / "MuseTalk"
    (app / "scripts").mkdir(parents=True)
    (app / "scripts" / "__init__.py").write_text("")
    paths = repr([str(HERE), str(HERE.parent)])
    (app / "scripts" / "inference.py").write_text(textwrap.dedent(STANDIN).replace("TEST_PATHS", paths))
    (app / "standin-mode.txt").write_text(mode + "\n")
    for rel in models.required_files():  # placeholders: the stand-in loads no weights
        (app / "models" / rel).parent.mkdir(parents=True, exist_ok=True)
        (app / "models" / rel).write_bytes(b"x")
    return app


@pytest.fixture(scope="module")
def speech(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from envdoctor.smoke import inputs

    return inputs.write_speech(tmp_path_factory.mktemp("speech") / "speech.wav")


def run_smoke(tmp_path: Path, mode: str, speech: Path) -> app_mod.AppSmoke:
    app = make_checkout(tmp_path, mode)
    return app_mod.smoke_app(Path(sys.executable), app, tmp_path / "out", audio=speech, timeout=300)


def test_synced_standin_passes(tmp_path: Path, speech: Path) -> None:
    result = run_smoke(tmp_path, "synced", speech)
    assert result.success, result.message
    assert result.verification is not None and result.verification.verdict is VideoVerdict.SYNCED
    assert result.run.exit_code == 0
    assert Path(result.run.output or "").name == "face_speech.mp4"
    assert any("save_dir_full" in n for n in result.run.notes)  # the known quirk is named, not failed on
    data = json.loads((tmp_path / "out" / "smoke-report.json").read_text())
    assert data["success"] is True and data["output_path"] == result.run.output
    assert (data["schema"], data["schema_version"], data["mode"]) == ("envdoctor.smoke", 1, "app")
    assert (tmp_path / "out" / "smoke-report.png").read_bytes()[:4] == b"\x89PNG"
    # Measured where the output differs from the input, within the crop boxes the app saved.
    assert data["verification"]["region_source"] == "difference"
    assert data["run"]["crop_boxes"] and data["run"]["extra_margin"] == runner.EXTRA_MARGIN
    assert not any("crop coordinates" in n for n in result.run.notes), result.run.notes


def test_static_standin_fails_as_static(tmp_path: Path, speech: Path) -> None:
    result = run_smoke(tmp_path, "static", speech)
    assert not result.success
    assert result.run.exit_code == 0
    assert result.verification is not None and result.verification.verdict is VideoVerdict.STATIC
    assert "STATIC" in result.message and "nothing was generated" in result.message


def test_truncated_standin_fails_the_frame_count(tmp_path: Path, speech: Path) -> None:
    result = run_smoke(tmp_path, "truncated", speech)
    assert not result.success
    assert result.verification is not None
    check = next(c for c in result.verification.checks if c.name == "frame count")
    assert not check.ok
    assert "frame count" in result.message


def test_exit_zero_without_video_fails(tmp_path: Path, speech: Path) -> None:
    result = run_smoke(tmp_path, "nothing", speech)
    assert result.run.exit_code == 0
    assert result.run.output is None and result.verification is None
    assert not result.success
    assert "exited 0 but wrote no video" in result.message and "division by zero" in result.message
    data = json.loads((tmp_path / "out" / "smoke-report.json").read_text())
    assert data["success"] is False and data["output_path"] is None


def test_a_failed_run_carries_the_explanation_explain_gives(tmp_path: Path, speech: Path) -> None:
    result = run_smoke(tmp_path, "nomusetalk", speech)
    assert not result.success and result.run.output is None and result.run.exit_code == 1
    expected = explain_file(Path(result.run.log))
    assert expected.root is not None and expected.root.key == "musetalk-cwd"
    assert result.explanation == expected
    assert expected.root.cause in result.message and expected.root.fix in result.message
    data = json.loads((tmp_path / "out" / "smoke-report.json").read_text())
    assert [f["key"] for f in data["explanation"]] == ["musetalk-cwd"]


def test_spaces_in_user_paths_do_not_reach_musetalk(placeholders: Path, tmp_path: Path, speech: Path) -> None:
    spaced = tmp_path / "my inputs"
    spaced.mkdir()
    audio = spaced / "my speech.v2.wav"
    shutil.copyfile(speech, audio)
    app = placeholders
    out = tmp_path / "report with spaces"
    code = main(["smoke", "--app", str(app), "--audio", str(audio), "--out", str(out), "--python", sys.executable])
    assert code == 0, (out / "smoke-app.log").read_text()
    assert json.loads((out / "smoke-report.json").read_text())["verification"]["verdict"] == "SYNCED"


def test_timeout_stops_the_app(tmp_path: Path, speech: Path) -> None:
    app = make_checkout(tmp_path, "synced")
    (app / "scripts" / "inference.py").write_text("import time\nprint('loading', flush=True)\ntime.sleep(600)\n")
    result = app_mod.smoke_app(Path(sys.executable), app, tmp_path / "out", audio=speech, timeout=3)
    assert result.run.timed_out and not result.success
    assert "timeout" in result.message


@pytest.fixture
def placeholders(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A stand-in checkout whose models/ and torch hub folder hold exactly the placeholder manifest's files."""
    app = make_checkout(tmp_path, "synced")
    torch_home = tmp_path / "torch-home"
    manifest = placeholder_weights(app / "models", torch_home, tmp_path / "manifest.toml")
    monkeypatch.setenv("ENVDOCTOR_MODELS_MANIFEST", str(manifest))
    monkeypatch.setenv("TORCH_HOME", str(torch_home))
    return app


def test_a_verified_tree_passes_the_weights_check_and_musetalk_runs(
    placeholders: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "o"
    code = main(["smoke", "--app", str(placeholders), "--python", sys.executable, "--out", str(out)])
    report = json.loads((out / "smoke-report.json").read_text())
    assert code == 0, report["message"]
    weights = report["weights"]
    assert weights["ok"] and weights["command"] is None
    assert {f["state"] for f in weights["files"]} == {"verified"}
    assert len(weights["files"]) == len(builtin().for_purpose("inference", "v15"))
    assert "each checked by sha256" in capsys.readouterr().err
    assert report["success"] and report["output_path"], "MuseTalk ran after the check"


def test_missing_and_wrong_weights_are_named_with_the_fetch_command_before_musetalk_runs(
    placeholders: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    unet, vae = "musetalkV15/unet.pth", "sd-vae/diffusion_pytorch_model.bin"
    (placeholders / "models" / unet).unlink()
    (placeholders / "models" / vae).write_bytes(b"y")  # the right size, other bytes
    out = tmp_path / "o"
    code = main(["smoke", "--app", str(placeholders), "--python", sys.executable, "--out", str(out)])
    err = capsys.readouterr().err.replace("\n", "")
    assert code == 1
    assert f"models/{unet} missing" in err and f"models/{vae} wrong (the right size with other bytes)" in err, err
    command = f"envdoctor models fetch --models {placeholders / 'models'} --repair"
    assert command in err and "--synthetic-weights" in err, err
    report = json.loads((out / "smoke-report.json").read_text())
    assert not report["success"] and report["weights"]["command"] == command
    assert {f["path"] for f in report["weights"]["files"] if not f["ok"]} == {unet, vae}
    assert not (out / "smoke-app.log").exists(), "MuseTalk is not started on weights that fail"


def test_missing_weights_are_named_and_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch-home"))
    app = make_checkout(tmp_path, "synced")
    shutil.rmtree(app / "models")
    assert main(["smoke", "--app", str(app), "--python", sys.executable, "--out", str(tmp_path / "o")]) == 1
    err = capsys.readouterr().err
    assert "--synthetic-weights" in err and "envdoctor models fetch --models" in err


def test_not_a_checkout_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["smoke", "--app", str(tmp_path), "--python", sys.executable]) == 2
    assert "scripts/inference.py" in capsys.readouterr().err


def test_output_name_follows_musetalk() -> None:
    assert runner.output_name(Path("/a/face.v1.png"), Path("/b/speech.wav")) == "face_speech.mp4"
