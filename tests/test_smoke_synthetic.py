"""`smoke --synthetic-weights` against a stand-in checkout written here.

The stand-in has its own small face-parsing and S3FD classes at MuseTalk's module paths, envdoctor's
DWPose config at MuseTalk's config path, and a scripts/inference.py that loads every weight file the
way MuseTalk does (strict state dicts, from_pretrained folders, the S3FD file from the torch hub cache,
DWPose through mmpose's init_model), takes its crop box from the DWPose face points, and then writes a
video whose mouth region is noise (what random weights give). The target is a real uv-built venv with
torch (CPU), diffusers, transformers and envdoctor's mmpose-free port.
"""

from __future__ import annotations

import json
import shutil
import textwrap
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("numpy", reason="the verifier needs envdoctor's `verify` extra (numpy)")
pytest.importorskip("skimage", reason="the verifier needs envdoctor's `verify` extra (scikit-image)")
from envdoctor.tools.ffmpeg import own_ffmpeg

if own_ffmpeg() is None:
    pytest.skip("no ffmpeg: put one on PATH or install the test extra (imageio-ffmpeg)", allow_module_level=True)

from envkit import build_env, python_of
from test_smoke_deps import MODEL_LIBS, _port_requirement

from envdoctor.resources import data_dir
from envdoctor.smoke import app as app_mod
from envdoctor.smoke import runner, synthetic
from envdoctor.verify.verdicts import RegionSource, VideoVerdict

# Real environments, built with uv and run: the outer ring, left out of `make test-fast`.
pytestmark = pytest.mark.envs

SMALL_UNET = {
    "_class_name": "UNet2DConditionModel",
    "in_channels": 8,
    "out_channels": 4,
    "cross_attention_dim": 384,
    "block_out_channels": [32, 64],
    "down_block_types": ["CrossAttnDownBlock2D", "DownBlock2D"],
    "up_block_types": ["UpBlock2D", "CrossAttnUpBlock2D"],
    "layers_per_block": 1,
    "norm_num_groups": 32,
    "attention_head_dim": 8,
    "sample_size": 32,
}

FACE_PARSING = """
import torch
import torch.nn as nn


class Resnet18(nn.Module):
    def __init__(self, model_path):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(8)
        own = self.state_dict()
        own.update({k: v for k, v in torch.load(model_path).items() if "fc" not in k})
        self.load_state_dict(own)


class ContextPath(nn.Module):
    def __init__(self, resnet_path):
        super().__init__()
        self.resnet = Resnet18(resnet_path)
        self.arm = nn.Conv2d(8, 8, 1)


class BiSeNet(nn.Module):
    def __init__(self, resnet_path, n_classes=19):
        super().__init__()
        self.cp = ContextPath(resnet_path)
        self.conv_out = nn.Conv2d(8, n_classes, 1)

    def forward(self, x):
        return self.conv_out(self.cp.arm(self.cp.resnet.bn1(self.cp.resnet.conv1(x))))
"""

NET_S3FD = """
import torch
import torch.nn as nn
import torch.nn.functional as F


class s3fd(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 16, 3, stride=4, padding=1)
        self.conv2 = nn.Conv2d(16, 16, 3, stride=8, padding=1)
        self.conv3_3_norm_mbox_conf = nn.Conv2d(16, 4, 3, padding=1)
        self.conv3_3_norm_mbox_loc = nn.Conv2d(16, 4, 3, padding=1)
        self.conv7_2_mbox_conf = nn.Conv2d(16, 2, 3, padding=1)
        self.conv7_2_mbox_loc = nn.Conv2d(16, 4, 3, padding=1)

    def forward(self, x):
        a = F.relu(self.conv1(x))
        b = F.relu(self.conv2(a))
        c1 = self.conv3_3_norm_mbox_conf(a)
        bmax = torch.max(torch.max(c1[:, 0:1], c1[:, 1:2]), c1[:, 2:3])
        c1 = torch.cat([bmax, c1[:, 3:4]], dim=1)
        return [c1, self.conv3_3_norm_mbox_loc(a), self.conv7_2_mbox_conf(b), self.conv7_2_mbox_loc(b)]
"""

INFERENCE = '''
"""A stand-in for MuseTalk's scripts/inference.py that loads synthetic weights (test material)."""
import argparse
import json
import os
import pickle
import subprocess
import wave

import cv2
import numpy as np
import torch


def main():
    p = argparse.ArgumentParser()
    for flag in ("--inference_config", "--result_dir", "--unet_model_path", "--unet_config", "--whisper_dir",
                 "--version"):
        p.add_argument(flag)
    p.add_argument("--fps", type=int, default=25)
    p.add_argument("--extra_margin", type=int, default=10)
    p.add_argument("--saved_coord", action="store_true")
    args = p.parse_args()
    tasks = {}
    for line in open(args.inference_config):
        if line.strip() and not line.startswith(" "):
            current = tasks.setdefault(line.strip().rstrip(":"), {})
        elif line.strip():
            key, _, value = line.strip().partition(":")
            current[key] = value.strip().strip('"')
    from diffusers import AutoencoderKL, UNet2DConditionModel
    from transformers import AutoFeatureExtractor, WhisperModel

    unet = UNet2DConditionModel(**json.load(open(args.unet_config)))
    unet.load_state_dict(torch.load(args.unet_model_path, map_location="cpu"))
    vae = AutoencoderKL.from_pretrained("./models/sd-vae")
    whisper = WhisperModel.from_pretrained(args.whisper_dir)
    AutoFeatureExtractor.from_pretrained(args.whisper_dir)
    from musetalk.utils.face_parsing.model import BiSeNet

    net = BiSeNet("./models/face-parse-bisent/resnet18-5c106cde.pth")
    net.load_state_dict(torch.load("./models/face-parse-bisent/79999_iter.pth", map_location="cpu"))
    from musetalk.utils.face_detection.detection.sfd.net_s3fd import s3fd

    det = s3fd()
    hub = os.path.join(torch.hub.get_dir(), "checkpoints", "s3fd-619a316812.pth")
    det.load_state_dict(torch.load(hub, map_location="cpu"))
    from mmpose.apis import inference_topdown, init_model
    from mmpose.structures import merge_data_samples

    pose = init_model("./musetalk/utils/dwpose/rtmpose-l_8xb32-270e_coco-ubody-wholebody-384x288.py",
                      "./models/dwpose/dw-ll_ucoco_384.pth", device="cpu")
    print("models loaded:", type(unet).__name__, type(vae).__name__, type(whisper).__name__, flush=True)
    for name, task in tasks.items():
        try:
            frame = cv2.imread(task["video_path"])
            with torch.no_grad():
                scores = torch.softmax(det(torch.from_numpy(frame).permute(2, 0, 1)[None].float())[2], dim=1)
            if float(scores[0, 1].max()) <= 0.5:
                raise ZeroDivisionError("division by zero")  # MuseTalk's symptom of no face
            kp = merge_data_samples(inference_topdown(pose, frame)).pred_instances.keypoints[0][23:91]
            x1, x2, y2 = int(kp[:, 0].min()), int(kp[:, 0].max()), int(kp[:, 1].max())
            y1 = max(0, int(kp[29, 1] - (y2 - kp[29, 1])))
            if x2 <= x1 or y2 <= y1 or x1 < 0:
                raise ValueError("no usable crop box")
            print("crop box", x1, y1, x2, y2, flush=True)
            with wave.open(task["audio_path"]) as w:
                frames = int(w.getnframes() / w.getframerate() * args.fps)
            rng = np.random.default_rng(0)
            video = np.repeat(frame[None], frames, axis=0)
            y2m = min(y2 + args.extra_margin, frame.shape[0])  # v1.5 pastes below the box's bottom too
            for t in range(frames):
                video[t, y1:y2m, x1:x2] = rng.integers(0, 256, size=(y2m - y1, x2 - x1, 3), dtype=np.uint8)
            out_dir = os.path.join(args.result_dir, args.version)
            os.makedirs(out_dir, exist_ok=True)
            stem = lambda q: os.path.basename(q).split(".")[0]
            coords = os.path.join(args.result_dir, "../", stem(task["video_path"]) + ".pkl")
            with open(coords, "wb") as f:
                pickle.dump([(np.int32(x1), np.int32(y1), np.int32(x2), np.int32(y2))] * frames, f)
            if not args.saved_coord:
                os.remove(coords)
            out = os.path.join(out_dir, stem(task["video_path"]) + "_" + stem(task["audio_path"]) + ".mp4")
            h, w_ = frame.shape[:2]
            subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "bgr24", "-s", f"{w_}x{h}",
                            "-r", str(args.fps), "-i", "-", "-i", task["audio_path"], "-c:v", "libx264",
                            "-pix_fmt", "yuv420p", "-c:a", "aac", out], input=video.tobytes(), check=True)
            print("Results saved to", out, flush=True)
        except Exception as e:
            print("Error occurred during processing:", e, flush=True)


if __name__ == "__main__":
    main()
'''


def make_checkout(root: Path) -> Path:
    app = root / "MuseTalk"
    files = {
        "scripts/__init__.py": "",
        "scripts/inference.py": INFERENCE,
        "musetalk/__init__.py": "",
        "musetalk/utils/__init__.py": "",
        "musetalk/utils/face_parsing/__init__.py": "",
        "musetalk/utils/face_parsing/model.py": FACE_PARSING,
        "musetalk/utils/face_detection/__init__.py": "",
        "musetalk/utils/face_detection/detection/__init__.py": "",
        "musetalk/utils/face_detection/detection/sfd/__init__.py": "",
        "musetalk/utils/face_detection/detection/sfd/net_s3fd.py": NET_S3FD,
    }
    for rel, text in files.items():
        (app / rel).parent.mkdir(parents=True, exist_ok=True)
        (app / rel).write_text(textwrap.dedent(text))
    config = app / synthetic.DWPOSE_CONFIG
    config.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(data_dir() / "dwpose-rtmpose-l-wholebody-384x288.py", config)
    return app


@pytest.fixture(scope="module")
def model_env() -> Path:
    return python_of(build_env("smoke-deps", [*MODEL_LIBS, _port_requirement()], torch="cpu"))


@pytest.mark.network
def test_synthetic_tree_loads_and_runs_through_the_standin(model_env: Path, tmp_path: Path) -> None:
    app = make_checkout(tmp_path)
    models = tmp_path / "synthetic models"
    built = synthetic.build(model_env, app, models, unet_config=SMALL_UNET)
    assert built.ok, built.summary()
    names = [s["name"] for s in built.steps]
    assert names == ["unet", "sd-vae", "whisper", "face-parse", "s3fd", "dwpose"]
    for rel in (
        "musetalkV15/unet.pth",
        "musetalkV15/musetalk.json",
        "sd-vae/config.json",
        "whisper/preprocessor_config.json",
        "face-parse-bisent/79999_iter.pth",
        "face-parse-bisent/resnet18-5c106cde.pth",
        "dwpose/dw-ll_ucoco_384.pth",
        ".torch-home/hub/checkpoints/s3fd-619a316812.pth",
    ):
        assert (models / rel).is_file(), rel
    dw = next(s for s in built.steps if s["name"] == "dwpose")
    assert "face box" in dw["detail"]  # the crafted landmarks give a usable crop on the default face

    out = tmp_path / "out"
    result = app_mod.smoke_app(
        model_env,
        app,
        out,
        models=models,
        seconds=2.0,
        timeout=600,
        synthetic_weights=True,
        env=built.env,
    )
    log = Path(result.run.log).read_text()
    assert "models loaded" in log and "crop box" in log, log
    assert result.success, result.message
    v = result.verification
    assert v is not None and v.verdict is VideoVerdict.NOT_ASSESSED and v.structure_ok
    assert "not assessed (synthetic weights)" in result.message
    assert "MuseTalk's code ran end to end and the region it generated changes" in result.message
    assert v.region_source is RegionSource.DIFFERENCE and v.region is not None
    crop = next(ln for ln in log.splitlines() if ln.startswith("crop box")).split()[2:]
    x1, y1, x2, y2 = (int(c) for c in crop)
    rx, ry, rw, rh = v.region  # the box the PNG draws: the pasted noise, inside the crop with its margin
    slack = 2  # the comparison runs at a smaller size
    inside = x1 - slack <= rx and y1 - slack <= ry and rx + rw <= x2 + slack
    assert inside and ry + rh <= y2 + runner.EXTRA_MARGIN + slack, (v.region, crop)
    assert rw >= 0.8 * (x2 - x1) and rh >= 0.8 * (y2 - y1), (v.region, crop)
    report = json.loads((out / "smoke-report.json").read_text())
    assert report["synthetic_weights"] is True and report["success"] is True
    assert any("shadow of the checkout" in n for n in report["run"]["notes"])


@pytest.mark.network
def test_checkout_without_dwpose_config_is_refused(model_env: Path, tmp_path: Path) -> None:
    app = make_checkout(tmp_path)
    (app / synthetic.DWPOSE_CONFIG).unlink()
    built = synthetic.build(model_env, app, tmp_path / "m", unet_config=SMALL_UNET)
    assert not built.ok and "rtmpose" in built.summary()


@pytest.mark.network
def test_the_cli_reports_synthetic_weights_it_could_not_write_as_json(
    model_env: Path, tmp_path: Path, cli: Any
) -> None:
    app = make_checkout(tmp_path)
    (app / synthetic.DWPOSE_CONFIG).unlink()
    out = tmp_path / "out"
    run = cli(
        "smoke", "--python", str(model_env), "--app", str(app), "--synthetic-weights", "--out", str(out), "--json"
    )
    assert run.code == 1, run.err[-3000:]
    doc = run.json()  # the report, on stdout as every smoke result is
    assert doc["success"] is False and "rtmpose" in doc["message"], doc["message"]
    assert doc["synthetic_weights"] is True and doc == json.loads((out / "smoke-report.json").read_text())
