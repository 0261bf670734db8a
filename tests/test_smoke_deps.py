"""`smoke --deps` in real uv-built environments: torch (CPU, from local disk), diffusers, transformers
and envdoctor's mmpose-free DWPose port; and in one with torch alone, where the passes that need more
must fail or be skipped out loud."""

from __future__ import annotations

import hashlib
import json
import shutil
import sys
from pathlib import Path

import pytest

from envdoctor.tools.ffmpeg import own_ffmpeg

if own_ffmpeg() is None:
    pytest.skip("no ffmpeg: put one on PATH or install the test extra (imageio-ffmpeg)", allow_module_level=True)

from envkit import REPO, build_env, python_of

from envdoctor.cli import main
from envdoctor.smoke import deps
from envdoctor.uv import find_uv

# Real environments, built with uv and run: the outer ring, left out of `make test-fast`.
pytestmark = pytest.mark.envs

# MuseTalk's pins for the two model libraries (its requirements.txt).
MODEL_LIBS = [
    "diffusers==0.30.2",
    "transformers==4.39.2",
    "huggingface-hub<1.0",
    "numpy<2",
    "opencv-python-headless",
    "pillow",
]


def _port_requirement() -> str:
    from envdoctor import dwpose

    built = dwpose.build_hashed(REPO / ".cache" / "smoke-dwpose-wheel")
    # The folder is named after the wheel's hash so that a changed port gives a new test venv.
    stable = REPO / ".cache" / "smoke-dwpose-wheel" / built.sha256[:12]
    stable.mkdir(parents=True, exist_ok=True)
    target = stable / built.path.name
    if not target.exists() or hashlib.sha256(target.read_bytes()).hexdigest() != built.sha256:
        shutil.copyfile(built.path, target)
    return dwpose.requirements(target)[0]


@pytest.fixture(scope="module")
def model_env() -> Path:
    return python_of(build_env("smoke-deps", [*MODEL_LIBS, _port_requirement()], torch="cpu"))


@pytest.fixture(scope="module")
def torch_only_env() -> Path:
    return python_of(build_env("smoke-torch-only", ["numpy<2"], torch="cpu"))


@pytest.mark.network
def test_light_passes_run_green(model_env: Path, tmp_path: Path) -> None:
    result = deps.run_deps(model_env, tmp_path, passes=("ffmpeg", "whisper", "dwpose"))
    by = {p.name: p for p in result.passes}
    assert result.success, result.message
    assert all(p.status == "ok" for p in result.passes), [(p.name, p.detail) for p in result.passes]
    assert "mmpose-free port" in by["dwpose"].detail and "68 face points" in by["dwpose"].detail
    assert "h264" in by["ffmpeg"].detail
    for p in (by["whisper"], by["dwpose"]):
        assert p.seconds is not None and p.seconds > 0 and p.peak_mb is not None and p.peak_mb > 50
        assert p.device == "cpu"
    report = json.loads((tmp_path / "smoke-report.json").read_text())
    assert report["success"] is True and report["mode"] == "deps" and len(report["passes"]) == 3


@pytest.mark.network
def test_missing_libraries_fail_or_skip_out_loud(torch_only_env: Path, tmp_path: Path) -> None:
    result = deps.run_deps(torch_only_env, tmp_path, passes=("dwpose", "vae", "ffmpeg"))
    by = {p.name: p for p in result.passes}
    assert by["dwpose"].status == "skipped" and "neither mmpose nor" in by["dwpose"].detail
    assert by["vae"].status == "failed" and "diffusers" in by["vae"].detail
    assert by["ffmpeg"].status == "ok"
    assert not result.success
    assert "FAILED: vae" in result.message and "Skipped: dwpose" in result.message


def test_passes_that_fail_alike_say_the_cause_once(tmp_path: Path) -> None:
    bare = tmp_path / "bare venv"  # no torch at all, and a space in the path
    find_uv().venv(bare, python=sys.executable)
    result = deps.run_deps(python_of(bare), None, passes=("whisper", "vae"))
    assert [p.status for p in result.passes] == ["failed", "failed"]
    assert "FAILED: whisper, vae, each with RuntimeError: torch does not import" in result.message
    assert result.message.count("torch does not import") == 1
    assert f"`envdoctor check --python '{python_of(bare)}'`" in result.message, "quoted: it can be pasted"


@pytest.mark.network
def test_cuda_asked_without_cuda_fails_the_pass(torch_only_env: Path) -> None:
    result = deps.run_deps(torch_only_env, None, passes=("whisper",), device="cuda")
    assert result.passes[0].status == "failed" and "cuda" in result.passes[0].detail.lower()


@pytest.mark.slow
def test_every_pass_runs_green_through_the_cli(model_env: Path, tmp_path: Path) -> None:
    # The UNet at MuseTalk's v1.5 shape has 850M parameters: about a minute and 4 GB on CPU.
    code = main(["smoke", "--deps", "--python", str(model_env), "--out", str(tmp_path)])
    report = json.loads((tmp_path / "smoke-report.json").read_text())
    assert code == 0, report["message"]
    assert [p["name"] for p in report["passes"]] == list(deps.PASSES)
    assert all(p["status"] == "ok" for p in report["passes"])
    unet = next(p for p in report["passes"] if p["name"] == "unet")
    assert "850M parameters" in unet["detail"]


@pytest.mark.network
def test_dwpose_pass_through_real_mmpose_on_the_ext_stub(tmp_path: Path) -> None:
    from stubenv import stub_env  # the shared OpenMMLab-on-mmcv-lite venv with envdoctor's `_ext` stub

    result = deps.run_deps(python_of(stub_env()), tmp_path, passes=("dwpose",))
    dw = result.passes[0]
    assert dw.status == "ok", (dw.detail, dw.traceback)
    assert "through mmpose 1.3.2" in dw.detail and "68 face points" in dw.detail
