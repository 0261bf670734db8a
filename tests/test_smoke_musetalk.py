"""The real MuseTalk (v1.5 inference, unmodified) on synthetic weights, in a uv-built venv.

Slow (about 4 minutes on 2 cores, 4 GB of weights written to a temporary folder, 8 GB of memory).
MuseTalk's code is not part of this repository: the test takes a checkout from
$ENVDOCTOR_TEST_MUSETALK (or exports one when that names a bare clone), and skips otherwise.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

# MuseTalk's inference imports (scripts/inference.py), its pins for diffusers/transformers, and envdoctor's
# mmpose-free DWPose port in place of the OpenMMLab stack.
APP_LIBS = [
    "diffusers==0.30.2",
    "transformers==4.39.2",
    "huggingface-hub<1.0",
    "numpy<2",
    "opencv-python-headless",
    "pillow",
    "librosa",
    "soundfile",
    "omegaconf",
    "einops",
    "tqdm",
    "scipy",
    "accelerate",
]


@pytest.fixture(scope="module")
def checkout(tmp_path_factory: pytest.TempPathFactory) -> Path:
    given = Path(os.environ.get("ENVDOCTOR_TEST_MUSETALK", ""))
    if not os.environ.get("ENVDOCTOR_TEST_MUSETALK") or not given.is_dir():
        pytest.skip("no MuseTalk checkout: set ENVDOCTOR_TEST_MUSETALK to one (or to a bare clone of it)")
    if (given / "scripts" / "inference.py").is_file():
        return given
    if not shutil.which("git"):
        pytest.skip(f"{given} is no checkout and git is missing to export one from it")
    root = tmp_path_factory.mktemp("musetalk")
    archive = subprocess.run(["git", "-C", str(given), "archive", "HEAD"], capture_output=True, check=True)
    subprocess.run(["tar", "-x", "-C", str(root)], input=archive.stdout, check=True)
    return root


def test_real_musetalk_runs_every_stage_on_synthetic_weights(checkout: Path, tmp_path: Path) -> None:
    from envdoctor.tools.ffmpeg import own_ffmpeg

    if own_ffmpeg() is None:
        pytest.skip("no ffmpeg: put one on PATH or install envdoctor's test extra (imageio-ffmpeg)")
    pytest.importorskip("skimage", reason="the verifier needs envdoctor's `verify` extra")
    from envkit import build_env, python_of
    from test_smoke_deps import _port_requirement

    from envdoctor.cli import main

    python = python_of(build_env("musetalk-app", [*APP_LIBS, _port_requirement()], torch="vision"))
    out = tmp_path / "out"
    code = main(["smoke", "--app", str(checkout), "--synthetic-weights", "--python", str(python), "--out", str(out)])
    report = json.loads((out / "smoke-report.json").read_text())
    assert code == 0, report["message"] + "\n" + (out / "smoke-app.log").read_text()[-3000:]
    v = report["verification"]
    assert v["verdict"] == "NOT_ASSESSED" and v["structure_ok"]
    assert next(c for c in v["checks"] if c["name"] == "frame count")["ok"]
    assert v["mouth_motion"] > 0.3  # the generated mouth region changes from frame to frame
    assert any("save_dir_full" in n for n in report["run"]["notes"])  # MuseTalk's image-input quirk
