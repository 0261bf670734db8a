"""Runs inside the OpenMMLab venv for bench/dwpose.py: per-frame CPU inference, real mmpose vs the port.

Usage: python _dwpose_inside.py CONFIG PORT_DIR WORK_DIR FRAMES
Both run in this one process on one random-weight checkpoint and the same frames, taking turns frame
by frame, so that load from other processes on the machine falls on both alike. Prints JSON.
"""

import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from dwpose_parity_run import SEED, calibrate_batch_norms, load_port, seeded_weights


def main() -> int:
    config, port_dir, work, frames = sys.argv[1], sys.argv[2], Path(sys.argv[3]), int(sys.argv[4])
    work.mkdir(parents=True, exist_ok=True)
    from mmpose.apis import inference_topdown, init_model
    from mmpose.structures import merge_data_samples

    ref = init_model(config, None, device="cpu")
    ref.load_state_dict(seeded_weights(ref.state_dict(), SEED))
    calibrate_batch_norms(ref.backbone, SEED)
    ckpt = work / "bench.pth"
    torch.save({"state_dict": ref.state_dict()}, ckpt)
    ref = init_model(config, str(ckpt), device="cpu")
    _, apis, structures = load_port(port_dir)
    exact = apis.init_model(config, str(ckpt), device="cpu")
    fast = apis.init_model(config, str(ckpt), device="cpu", fast=True)

    runners = {
        "mmpose": lambda img: merge_data_samples(inference_topdown(ref, img)).pred_instances,
        "port": lambda img: structures.merge_data_samples(apis.inference_topdown(exact, img)).pred_instances,
        "port_fast": lambda img: structures.merge_data_samples(apis.inference_topdown(fast, img)).pred_instances,
    }
    rng = np.random.default_rng(SEED)
    images = [rng.integers(0, 256, size=(480, 640, 3), dtype=np.uint8) for _ in range(frames)]
    for run in runners.values():  # warm-up: first calls allocate and pick kernels
        run(images[0])
        run(images[0])
    seconds = {name: [] for name in runners}
    worst = {"port_fast_kpt": 0.0, "port_fast_score": 0.0}
    for img in images:
        outs = {}
        for name, run in runners.items():
            t0 = time.perf_counter()
            outs[name] = run(img)
            seconds[name].append(time.perf_counter() - t0)
        worst["port_fast_kpt"] = max(
            worst["port_fast_kpt"], float(np.abs(outs["mmpose"].keypoints - outs["port_fast"].keypoints).max())
        )
        worst["port_fast_score"] = max(
            worst["port_fast_score"],
            float(np.abs(outs["mmpose"].keypoint_scores - outs["port_fast"].keypoint_scores).max()),
        )
    print(
        json.dumps(
            {
                "median_s": {k: statistics.median(v) for k, v in seconds.items()},
                "frames": frames,
                "threads": torch.get_num_threads(),
                "torch": torch.__version__,
                "fast_vs_mmpose": worst,
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
