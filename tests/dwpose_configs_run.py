"""Run inside the OpenMMLab venv: which of mmpose's own RTMPose configs the port accepts, and whether
the network it builds for each has exactly mmpose's state-dict keys and shapes.

Usage: python dwpose_configs_run.py PORT_DIR OUT_JSON
"""

import glob
import json
import os
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from dwpose_parity_run import ALIAS, load_port


def main() -> int:
    port_dir, out_json = sys.argv[1:3]
    import mmpose
    from mmpose.apis import init_model

    load_port(port_dir)
    config_mod = sys.modules[ALIAS + "._config"]
    nn_mod = sys.modules[ALIAS + "._nn"]
    errors = sys.modules[ALIAS + "._errors"]
    root = os.path.join(os.path.dirname(mmpose.__file__), ".mim", "configs")
    report: dict[str, dict[str, Any]] = {"accepted": {}, "refused": {}}
    for path in sorted(glob.glob(os.path.join(root, "**", "rtmpose*.py"), recursive=True)):
        name = os.path.relpath(path, root)
        try:
            spec = config_mod.parse_config(path)
        except errors.UnsupportedConfigError as exc:
            report["refused"][name] = exc.reason
            continue
        ours = {k: list(v.shape) for k, v in nn_mod.RTMPose(spec).state_dict().items()}
        ref = {k: list(v.shape) for k, v in init_model(path, None, device="cpu").state_dict().items()}
        report["accepted"][name] = {
            "same_keys_and_shapes": ours == ref,
            "keys": len(ref),
            "keypoints": spec.num_keypoints,
        }
    Path(out_json).write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
