"""Run inside a venv that has OpenMMLab's mmpose: real mmpose vs the mmpose-free port, same process.

Usage: python dwpose_parity_run.py CONFIG PORT_DIR WORK_DIR OUT_JSON

Both models share one torch, numpy and cv2, so any difference comes from the port, not from library
versions. The port is loaded from its source folder under another package name (it is also called
`mmpose`), which is possible because it only uses relative imports.

This file must run on the reference venv's Python with the standard library, numpy, torch, cv2,
mmpose and (optionally) scikit-image: it does not import envdoctor.
"""

import importlib.util
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

SEED = 20260521
ALIAS = "mmpose_free_port"


def seeded_weights(state: dict, seed: int) -> dict:
    """Random weights that keep activations O(1) through the network and make every key matter.

    Batch-norm statistics are random too (not 0/1), so a port that mixed up running_mean and the
    bias, or skipped a norm, would fail. Convolutions and linears get He-normal weights.
    """
    gen = torch.Generator().manual_seed(seed)
    out = {}
    for key, value in state.items():
        if not value.is_floating_point():
            out[key] = value.clone()
            continue
        shape = value.shape
        if key.endswith("running_var") or key.endswith("bn.weight") or key.endswith("res_scale.scale"):
            new = torch.rand(shape, generator=gen) + 0.5
        elif key.endswith("running_mean") or key.endswith("bias"):
            new = torch.randn(shape, generator=gen) * 0.1
        elif key.endswith(".g"):
            new = 1.0 + torch.randn(shape, generator=gen) * 0.1
        elif key.endswith("gamma") or key.endswith("beta"):
            new = torch.rand(shape, generator=gen)
        elif value.ndim >= 2:
            fan_in = value[0].numel()
            new = torch.randn(shape, generator=gen) * (2.0 / fan_in) ** 0.5
        else:
            new = torch.randn(shape, generator=gen) * 0.1
        out[key] = new.to(value.dtype)
    return out


def calibrate_batch_norms(backbone: torch.nn.Module, seed: int) -> None:
    """Set every batch norm's running statistics to those of its actual inputs, as training does.

    Without this, He-normal weights let activations grow to thousands through 60 layers, and the
    network turns a one-ulp difference (another summation order) into 1e-3 in the scores: parity
    would then measure the random network's chaos, not the port. Calibrated, activations stay O(1),
    like a trained model's.
    """
    norms = [m for m in backbone.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    for norm in norms:
        norm.reset_running_stats()
        norm.momentum = None  # a cumulative average over the calibration batches
    gen = torch.Generator().manual_seed(seed + 1)
    backbone.train()
    with torch.no_grad():
        for _ in range(2):
            backbone(torch.randn(4, 3, 384, 288, generator=gen))
    backbone.eval()


def images() -> dict:
    rng = np.random.default_rng(SEED)
    found = {}
    astronaut = None
    try:
        from skimage import data

        astronaut = data.astronaut()
    except ImportError:
        saved = Path(sys.argv[3]) / "astronaut.npy"  # handed over by the test when this venv lacks skimage
        if saved.is_file():
            astronaut = np.load(saved)
    if astronaut is not None:
        found["astronaut_512x512"] = np.ascontiguousarray(astronaut[:, :, ::-1])  # RGB -> BGR
        # MuseTalk's own smoke runs use the astronaut cropped to 448x512 (face on the centre line).
        found["astronaut_448x512"] = np.ascontiguousarray(found["astronaut_512x512"][:, 32:480])
    for w, h in [(640, 480), (480, 640), (1280, 720), (300, 900), (97, 61)]:
        found[f"random_{w}x{h}"] = rng.integers(0, 256, size=(h, w, 3), dtype=np.uint8)
    found["random_640x480_b"] = rng.integers(0, 256, size=(480, 640, 3), dtype=np.uint8)
    # A smooth image, so the crop's interpolation matters (random noise averages it away).
    yy, xx = np.mgrid[0:360, 0:512]
    smooth = np.stack([(xx * 0.5) % 256, (yy * 0.7) % 256, ((xx + yy) * 0.3) % 256], axis=-1).astype(np.uint8)
    found["smooth_512x360"] = smooth
    return found


def musetalk_crop(face: np.ndarray) -> tuple:
    """The crop box MuseTalk derives from the 68 face points (bbox_shift 0), before its fallbacks."""
    pts = face.astype(np.int32)
    centre_y = pts[29][1]
    below = np.max(pts[:, 1]) - centre_y
    top = max(0, centre_y - below)
    return (int(np.min(pts[:, 0])), int(top), int(np.max(pts[:, 0])), int(np.max(pts[:, 1])))


def load_port(port_dir: str):
    init = Path(port_dir) / "__init__.py"
    spec = importlib.util.spec_from_file_location(ALIAS, init, submodule_search_locations=[str(init.parent)])
    assert spec is not None and spec.loader is not None, init
    module = importlib.util.module_from_spec(spec)
    sys.modules[ALIAS] = module
    spec.loader.exec_module(module)
    apis = importlib.import_module(ALIAS + ".apis")
    structures = importlib.import_module(ALIAS + ".structures")
    return module, apis, structures


def main() -> int:
    config, port_dir, work_dir, out_json = sys.argv[1:5]
    work = Path(work_dir)
    work.mkdir(parents=True, exist_ok=True)
    from mmpose.apis import inference_topdown, init_model
    from mmpose.structures import merge_data_samples

    ref = init_model(config, None, device="cpu")
    ref.load_state_dict(seeded_weights(ref.state_dict(), SEED))
    calibrate_batch_norms(ref.backbone, SEED)
    state = ref.state_dict()
    ckpt = work / "rtmpose-l-random.pth"
    # mmpose's checkpoint layout: weights under 'state_dict', plain metadata beside them.
    torch.save({"meta": {"seed": SEED, "note": "random weights for the parity test"}, "state_dict": state}, ckpt)
    ref = init_model(config, str(ckpt), device="cpu")

    port, port_apis, port_structures = load_port(port_dir)
    ours = port_apis.init_model(config, str(ckpt), device="cpu")

    report = {
        "images": {},
        "flip_indices_equal": list(ref.dataset_meta["flip_indices"]) == list(ours.dataset_meta["flip_indices"]),
        "port_file": port.__file__,
    }
    for name, img in images().items():
        t0 = time.perf_counter()
        a = merge_data_samples(inference_topdown(ref, img)).pred_instances
        t1 = time.perf_counter()
        b = port_structures.merge_data_samples(port_apis.inference_topdown(ours, img)).pred_instances
        t2 = time.perf_counter()
        ka, kb = np.asarray(a.keypoints), np.asarray(b.keypoints)
        sa, sb = np.asarray(a.keypoint_scores), np.asarray(b.keypoint_scores)
        face = slice(23, 91)
        report["images"][name] = {
            "shape": list(img.shape),
            "keypoints_shape": [list(ka.shape), list(kb.shape)],
            "dtypes": [str(ka.dtype), str(kb.dtype), str(sa.dtype), str(sb.dtype)],
            "max_kpt_diff": float(np.abs(ka.astype(np.float64) - kb).max()),
            "max_score_diff": float(np.abs(sa.astype(np.float64) - sb).max()),
            "kpt_spread": float(ka[0].std(axis=0).mean()),
            "score_range": [float(sa.min()), float(sa.max())],
            "crop_ref": musetalk_crop(ka[0][face]),
            "crop_ours": musetalk_crop(kb[0][face]),
            "seconds": [t1 - t0, t2 - t1],
            "first_kpts": [ka[0][:3].tolist(), kb[0][:3].tolist()],
        }
    # Boxes given by the caller (MuseTalk passes none, but the call accepts them): several at once,
    # in both formats, one reaching outside the image.
    img = next(iter(images().values()))
    boxes = [[60, 40, 420, 470], [0, 0, 256, 256], [300, 200, 700, 520]]
    for fmt, given in (("xyxy", boxes), ("xywh", [[x1, y1, x2 - x1, y2 - y1] for x1, y1, x2, y2 in boxes])):
        a = merge_data_samples(inference_topdown(ref, img, np.array(given, dtype=np.float32), fmt)).pred_instances
        b = port_structures.merge_data_samples(port_apis.inference_topdown(ours, img, given, fmt)).pred_instances
        report["boxes_" + fmt] = {
            "shapes": [list(a.keypoints.shape), list(b.keypoints.shape)],
            "max_kpt_diff": float(np.abs(a.keypoints.astype(np.float64) - b.keypoints).max()),
            "max_score_diff": float(np.abs(a.keypoint_scores.astype(np.float64) - b.keypoint_scores).max()),
            "bboxes_equal": bool(np.array_equal(a.bboxes, b.bboxes)),
        }
    Path(out_json).write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
