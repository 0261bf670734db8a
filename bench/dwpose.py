"""The mmpose-free DWPose port against real mmpose, measured in the same run on the same machine.

Targets: import cost above a bare `import torch` at most a tenth of mmpose's; per-frame CPU
inference at least as fast as mmpose's.

- Import cost: the same torch 2.14.1, numpy 1.26.4 and opencv-python 4.11.0.86 in two venvs, one with
  the OpenMMLab stack (tests/stubenv.py), one with only the port's wheel. Each fresh interpreter
  times `import torch`, then the imports MuseTalk makes (`from mmpose.apis import inference_topdown,
  init_model; from mmpose.structures import merge_data_samples`); the two venvs take turns.
- Inference: one process in the OpenMMLab venv runs mmpose and the port (loaded from its source folder
  under another name) on one random-weight checkpoint, frame by frame in turn: 640x480 frames, whole
  image as the box, flip test on, as MuseTalk calls it.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
from pathlib import Path

from envdoctor.inside import run_json

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

HERE = Path(__file__).resolve().parent
CONFIG_IN_WHEEL = (
    "mmpose/.mim/configs/wholebody_2d_keypoint/rtmpose/ubody/rtmpose-l_8xb32-270e_coco-ubody-wholebody-384x288.py"
)
# Seconds for `import torch`, then for MuseTalk's mmpose imports on top of it, then for `import cv2` (which
# mmcv has already imported; the port defers it to the first inference), in one fresh interpreter.
_IMPORTS = (
    "import time; t0 = time.perf_counter(); import torch; t1 = time.perf_counter(); "
    "from mmpose.apis import inference_topdown, init_model; from mmpose.structures import merge_data_samples; "
    "t2 = time.perf_counter(); import cv2; t3 = time.perf_counter(); import json; "
    "print(json.dumps({'torch': t1 - t0, 'mmpose': t2 - t1, 'cv2': t3 - t2}))"
)


def _import_times(python: Path) -> tuple[float, float, float]:
    s = run_json(
        python, ["-W", "ignore", "-c", _IMPORTS], what="the import timing", timeout=300, require_exit_zero=True
    ).data
    return float(s["torch"]), float(s["mmpose"]), float(s["cv2"])


def main(repeat: int = 7, frames: int = 10) -> None:
    from envkit import build_env, python_of
    from stubenv import stub_env

    from envdoctor import dwpose
    from envdoctor.uv import find_uv

    ref = stub_env()
    config = sorted(ref.glob(f"lib/python*/site-packages/{CONFIG_IN_WHEEL}"))[0]
    free = build_env("dwpose-bench-free", ["numpy==1.26.4", "opencv-python==4.11.0.86"], torch="vision")
    with tempfile.TemporaryDirectory() as tmp:
        wheel = dwpose.build_wheel(Path(tmp))
        find_uv().pip_install(
            python_of(free),
            [str(wheel)],
            constraints=[free / ".envkit-hold.txt"],
            extra=["--reinstall-package", dwpose.DIST_NAME],
        )

        envs = {"mmpose": python_of(ref), "port": python_of(free)}
        for py in envs.values():  # warm the disk cache; not counted
            _import_times(py)
        times: dict[str, list[tuple[float, float, float]]] = {name: [] for name in envs}
        for _ in range(repeat):
            for name, py in envs.items():
                times[name].append(_import_times(py))
        med = {name: tuple(statistics.median(run[i] for run in v) for i in range(3)) for name, v in times.items()}
        ratio = med["port"][1] / med["mmpose"][1]
        with_cv2 = (med["port"][1] + med["port"][2]) / (med["mmpose"][1] + med["mmpose"][2])
        print(f"import (median of {repeat}, fresh interpreters, same torch/numpy/cv2):")
        for name, (t, m, c) in med.items():
            print(f"  {name:7s} import torch {t:6.3f} s   mmpose imports on top {m:6.3f} s   then cv2 {c:6.3f} s")
        verdict = "met" if ratio <= 0.1 else "NOT met"
        print(
            f"  port/mmpose import cost above torch: {ratio:.3f} (target <= 0.100: {verdict}); "
            f"counting the cv2 import the port defers: {with_cv2:.3f}"
        )

        res = run_json(
            python_of(ref),
            [
                "-W",
                "ignore",
                str(HERE / "_dwpose_inside.py"),
                str(config),
                str(dwpose.PAYLOAD),
                str(Path(tmp) / "work"),
                str(frames),
            ],
            what="mmpose against the port",
            timeout=1800,
            require_exit_zero=True,
        ).data
    s = res["median_s"]
    print(
        f"inference per 640x480 frame (CPU, {res['threads']} threads, torch {res['torch']}, "
        f"median of {res['frames']} frames, interleaved):"
    )
    for name in ("mmpose", "port", "port_fast"):
        print(f"  {name:9s} {s[name] * 1000:8.1f} ms   speed vs mmpose {s['mmpose'] / s[name]:.2f}x")
    speed = s["mmpose"] / s["port"]
    verdict = "met" if speed >= 1.0 else "NOT met"
    print(f"  target: port (exact mode) at least as fast as mmpose: {verdict} ({speed:.2f}x)")
    worst = res["fast_vs_mmpose"]
    print(
        f"  fast mode vs mmpose: max keypoint diff {worst['port_fast_kpt']:.2e} px, "
        f"max score diff {worst['port_fast_score']:.2e} (exact mode: equal, see tests/test_dwpose_envs.py)"
    )


if __name__ == "__main__":
    main()
