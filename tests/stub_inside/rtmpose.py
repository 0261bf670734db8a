"""Runs INSIDE the stub environment: the RTMPose-l wholebody 384x288 config shipped in the mmpose wheel,
random weights, one inference_topdown on an image; prints one JSON document on the last line.

The proof that no `_ext` op ran on that path: every stub op (real or raising) counts its calls in
mmcv._ext.STUB_CALLS, and mmcv.ops reaches the ops only through that module object. The script checks
that the counter is empty after inference, that mmcv.ops really holds this module, and, as a control,
that one op call afterwards does show up in the counter.
"""

import json
import os
import sys

import numpy as np
import torch

CONFIG = "wholebody_2d_keypoint/rtmpose/ubody/rtmpose-l_8xb32-270e_coco-ubody-wholebody-384x288.py"


def main():
    import mmcv._ext as ext
    import mmpose
    from mmpose.apis import inference_topdown, init_model

    torch.manual_seed(0)
    config = os.path.join(os.path.dirname(mmpose.__file__), ".mim", "configs", CONFIG)
    model = init_model(config, None, device="cpu")
    before_inference = dict(ext.STUB_CALLS)
    image = np.random.default_rng(0).integers(0, 255, (256, 320, 3), dtype=np.uint8)
    results = inference_topdown(model, image)
    keypoints = results[0].pred_instances.keypoints
    calls = dict(ext.STUB_CALLS)
    ops_modules = [m for name, m in sys.modules.items() if name.startswith("mmcv.ops.") and hasattr(m, "ext_module")]
    wired = bool(ops_modules) and all(m.ext_module is ext for m in ops_modules)
    import mmcv.ops

    mmcv.ops.get_compiler_version()  # control: a call through mmcv.ops is counted
    control = ext.STUB_CALLS.get("get_compiler_version", 0) == calls.get("get_compiler_version", 0) + 1
    print(
        json.dumps(
            {
                "config": config,
                "mmdet_imported": "mmdet.models" in sys.modules,
                "ops_modules": len(ops_modules),
                "keypoints_shape": list(np.asarray(keypoints).shape),
                "finite": bool(np.isfinite(np.asarray(keypoints)).all()),
                "calls_before_inference": before_inference,
                "calls": calls,
                "wired": wired,
                "control_counted": control,
                "ext_file": ext.__file__,
            }
        )
    )


if __name__ == "__main__":
    main()
