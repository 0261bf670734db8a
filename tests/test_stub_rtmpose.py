"""The DWPose path on the stub: RTMPose-l wholebody 384x288 (the config inside the mmpose wheel), random
weights, inference_topdown on an image, and proof that no `_ext` op ran (see stub_inside/rtmpose.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from envkit import python_of, run_inside
from stubenv import stub_env

# Real environments, built with uv and run: the outer ring, left out of `make test-fast`.
pytestmark = pytest.mark.envs

HERE = Path(__file__).resolve().parent


@pytest.mark.network
def test_rtmpose_wholebody_runs_on_the_stub_and_calls_no_op() -> None:
    script = HERE / "stub_inside" / "rtmpose.py"
    report = run_inside(python_of(stub_env()), [str(script)], what="stub_inside/rtmpose.py")
    assert report["keypoints_shape"] == [1, 133, 2] and report["finite"]
    assert report["mmdet_imported"], "the config's CSPNeXt backbone comes from mmdet, which imports all of mmcv.ops"
    assert report["ext_file"].endswith("site-packages/mmcv/_ext.py")
    # The proof: mmcv.ops reaches every op through this module, the counter works, and it stayed empty.
    assert report["wired"] and report["ops_modules"] == 51
    assert report["control_counted"]
    assert report["calls_before_inference"] == {} and report["calls"] == {}
