"""The real MuseTalk (v1.5 inference, unmodified) on synthetic weights, in a uv-built venv.

Slow (about 4 minutes on 2 cores, 4 GB of weights written to a temporary folder, 8 GB of memory).
MuseTalk's code is not part of this repository: the test takes a checkout from
$ENVDOCTOR_TEST_MUSETALK (or exports one when that names a bare clone), and skips otherwise.
"""

from __future__ import annotations

import json
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


def app_python() -> Path:
    """An interpreter with MuseTalk's inference dependencies (built once, then reused)."""
    from envkit import build_env, python_of
    from test_smoke_deps import _port_requirement

    return python_of(build_env("musetalk-app", [*APP_LIBS, _port_requirement()], torch="vision"))


@pytest.fixture(scope="module")
def checkout(musetalk_checkout: Path) -> Path:
    return musetalk_checkout


def test_real_musetalk_runs_every_stage_on_synthetic_weights(checkout: Path, tmp_path: Path) -> None:
    from envdoctor.tools.ffmpeg import own_ffmpeg

    if own_ffmpeg() is None:
        pytest.skip("no ffmpeg: put one on PATH or install envdoctor's test extra (imageio-ffmpeg)")
    pytest.importorskip("skimage", reason="the verifier needs envdoctor's `verify` extra")
    from envdoctor.cli import main

    python = app_python()
    out = tmp_path / "out"
    code = main(["smoke", "--app", str(checkout), "--synthetic-weights", "--python", str(python), "--out", str(out)])
    report = json.loads((out / "smoke-report.json").read_text())
    assert code == 0, report["message"] + "\n" + (out / "smoke-app.log").read_text()[-3000:]
    v = report["verification"]
    assert v["verdict"] == "NOT_ASSESSED" and v["structure_ok"]
    assert next(c for c in v["checks"] if c["name"] == "frame count")["ok"]
    assert v["mouth_motion"] > 0.3  # the generated mouth region changes from frame to frame
    assert any("save_dir_full" in n for n in report["run"]["notes"])  # MuseTalk's image-input quirk


def test_bench_times_every_stage_of_real_musetalk_on_synthetic_weights(
    checkout: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from envdoctor.cli import main

    python = app_python()
    out = tmp_path / "out"
    # 5 frames a pass in batches of 2: three batches, so each pass has a spread of its own (about 2 minutes
    # of UNet and VAE decode a run on 2 CPU cores).
    argv = ["smoke", "--bench", "--app", str(checkout), "--python", str(python), "--out", str(out)]
    code = main([*argv, "--seconds", "0.2", "--batch-size", "2", "--passes", "3"])
    text = capsys.readouterr().out
    assert code == 0, text
    doc = json.loads((out / "smoke-bench.json").read_text())
    rows = {line.split("│")[1].strip(): line for line in text.splitlines() if line.startswith("│")}
    for s in doc["stages"] + doc["prepare"] + doc["offline_stages"]:
        assert s["median_ms"] > 0 and s["peak_ram_mb"] > 0, s["name"]
        # Printed with its ms per frame and its peak memory.
        assert f"{s['median_ms']:.1f}" in rows[s["name"]] and f"{s['peak_ram_mb']:.0f}" in rows[s["name"]]
    assert [s["name"] for s in doc["stages"]] == ["whisper", "unet", "vae_decode", "blend"]
    assert all(len(p) == 5 for s in doc["stages"] for p in s["passes_ms"])
    assert doc["coverage"] >= 0.9 and doc["coverage_ok"], doc["unclaimed_ms"]
    assert doc["passes"]["kind"] in ("agree", "disagree")  # a measured answer, not "undetermined"
    assert doc["offline"]["script"] == "scripts/inference.py" and doc["offline"]["frame_ms"] > 0
    assert doc["video"]["kind"] in ("real_time", "not_real_time") and "their figure" in text
