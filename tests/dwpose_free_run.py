"""Run inside a venv where envdoctor-mmpose-free provides `mmpose` (no OpenMMLab): MuseTalk's calls.

Usage: python dwpose_free_run.py CONFIG WORK_DIR OUT_JSON

Lays out a MuseTalk-like tree in WORK_DIR (the DWPose config at MuseTalk's relative path, a
random-weight checkpoint at models/dwpose/dw-ll_ucoco_384.pth), then makes MuseTalk's calls from
that directory, and the calls that must fail, and writes what happened as JSON. Standard library,
numpy, torch and the installed `mmpose` only.
"""

import contextlib
import json
import os
import shutil
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import torch

OPENMMLAB = ("mmpose", "mmdet", "mmcv", "mmcv-lite", "mmengine", "xtcocotools", "chumpy")
CONFIG_REL = "musetalk/utils/dwpose/rtmpose-l_8xb32-270e_coco-ubody-wholebody-384x288.py"
CKPT_REL = "models/dwpose/dw-ll_ucoco_384.pth"


def error_of(fn):
    try:
        fn()
    except Exception as exc:  # the test wants the type and the sentence
        return {"type": type(exc).__name__, "message": str(exc), "bases": [c.__name__ for c in type(exc).__mro__]}
    return None


def main() -> int:
    config, work_dir, out_json = sys.argv[1:4]
    work = Path(work_dir)
    (work / CONFIG_REL).parent.mkdir(parents=True, exist_ok=True)
    (work / CKPT_REL).parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(config, work / CONFIG_REL)
    os.chdir(work)
    result: dict[str, Any] = {"openmmlab_installed": []}
    for name in OPENMMLAB:
        with contextlib.suppress(metadata.PackageNotFoundError):
            result["openmmlab_installed"].append(f"{name}=={metadata.version(name)}")

    import mmpose
    from mmpose import _envdoctor_mmpose_free as marker
    from mmpose._config import parse_config
    from mmpose._nn import RTMPose

    result["marker"] = {"dist": marker.DIST_NAME, "strategy": marker.STRATEGY}
    result["mmpose_dist"] = metadata.version("envdoctor-mmpose-free")
    result["mmpose_file"] = mmpose.__file__

    gen = torch.Generator().manual_seed(7)
    net = RTMPose(parse_config(CONFIG_REL))
    state = {
        k: (torch.randn(v.shape, generator=gen) * 0.05 if v.is_floating_point() else v)
        for k, v in net.state_dict().items()
    }
    state = {k: (v.abs() + 0.5 if k.endswith("running_var") else v) for k, v in state.items()}
    torch.save({"meta": {"note": "random"}, "state_dict": state}, CKPT_REL)

    # MuseTalk's own calls, as musetalk/utils/preprocessing.py makes them.
    from mmpose.apis import inference_topdown, init_model
    from mmpose.structures import merge_data_samples

    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    model = init_model(f"./{CONFIG_REL}", f"./{CKPT_REL}", device=device)
    frame = np.random.default_rng(3).integers(0, 256, size=(480, 640, 3), dtype=np.uint8)
    results = merge_data_samples(inference_topdown(model, np.asarray([frame])[0]))
    keypoints = results.pred_instances.keypoints
    face = keypoints[0][23:91].astype(np.int32)
    result["keypoints_shape"] = list(keypoints.shape)
    result["scores_shape"] = list(results.pred_instances.keypoint_scores.shape)
    result["face_shape"] = list(face.shape)
    result["finite"] = bool(np.isfinite(keypoints).all())

    # Everything else fails, and says why.
    result["errors"] = {
        "other_api": error_of(lambda: exec("from mmpose.apis import inference_bottomup", {})),
        "other_module": error_of(lambda: exec("import mmpose.models", {})),
        "other_submodule": error_of(lambda: exec("import mmpose.apis.inference", {})),
        "attribute": error_of(lambda: mmpose.datasets),
    }
    bad = dict(state)
    bad.pop("head.cls_x.weight")
    bad["head.extra.weight"] = torch.zeros(1)
    torch.save({"state_dict": bad}, "bad.pth")
    result["errors"]["mismatch"] = error_of(lambda: init_model(CONFIG_REL, "bad.pth", device="cpu"))
    torch.save({"meta": {"dataset_meta": {"sigmas": np.ones(3)}}, "state_dict": state}, "numpy-meta.pth")
    result["errors"]["needs_trust"] = error_of(lambda: init_model(CONFIG_REL, "numpy-meta.pth", device="cpu"))
    os.environ["ENVDOCTOR_DWPOSE_TRUST_CHECKPOINT"] = "1"
    trusted = init_model(CONFIG_REL, "numpy-meta.pth", device="cpu")
    result["trusted_loads"] = bool(torch.equal(trusted.head.cls_x.weight, state["head.cls_x.weight"]))
    # The conversion a user runs once on a checkpoint they trust; afterwards no trust is needed.
    del os.environ["ENVDOCTOR_DWPOSE_TRUST_CHECKPOINT"]
    import subprocess

    from mmpose._convert import convert

    def check(path):
        return subprocess.run(
            [sys.executable, "-m", "mmpose._convert", path, "--check"], capture_output=True, text=True
        ).returncode

    result["check_codes"] = {"before": check("numpy-meta.pth")}
    convert("numpy-meta.pth", "converted.pth")
    result["check_codes"]["after"] = check("converted.pth")
    converted = init_model(CONFIG_REL, "converted.pth", device="cpu")
    result["converted_loads"] = bool(torch.equal(converted.head.cls_x.weight, state["head.cls_x.weight"]))
    fast = init_model(CONFIG_REL, "converted.pth", device="cpu", fast=True)
    fast_kpts = merge_data_samples(inference_topdown(fast, frame)).pred_instances.keypoints
    result["fast_shape"] = list(fast_kpts.shape)
    result["fast_fused"] = not any(type(m).__name__ == "BatchNorm2d" for m in fast.modules())
    torch.save(state, "bare.pth")
    bare = init_model(CONFIG_REL, "bare.pth", device="cpu")
    result["bare_loads"] = bool(torch.equal(bare.head.cls_y.weight, state["head.cls_y.weight"]))
    Path(out_json).write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
