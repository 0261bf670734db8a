"""What the mmpose-free distribution is: its name, version, requirements and the packages it excludes.

The version and name are read from the port's own marker module (probes/mmpose_free/mmpose/_envdoctor_mmpose_free.py)
so that the installed package and envdoctor never disagree about them.
"""

from __future__ import annotations

import ast

from envdoctor.distnames import known
from envdoctor.resources import mmpose_free_package

PAYLOAD = mmpose_free_package()
MARKER_MODULE = "mmpose._envdoctor_mmpose_free"
MARKER_FILE = "mmpose/_envdoctor_mmpose_free.py"


def _marker_values() -> dict[str, object]:
    tree = ast.parse((PAYLOAD / "_envdoctor_mmpose_free.py").read_text())
    values: dict[str, object] = {}
    for stmt in tree.body:
        if isinstance(stmt, ast.Assign) and isinstance(stmt.targets[0], ast.Name):
            values[stmt.targets[0].id] = ast.literal_eval(stmt.value)
    return values


_MARKER = _marker_values()
DIST_NAME = str(_MARKER["DIST_NAME"])
VERSION = str(_MARKER["VERSION"])
STRATEGY = str(_MARKER["STRATEGY"])
SUMMARY = "envdoctor's mmpose-free DWPose port: the `mmpose` calls MuseTalk makes, in plain PyTorch, no OpenMMLab"

# Declared in the wheel: the port imports them. cv2 is needed too but not declared, because it has
# four providers (opencv-python, -headless, -contrib, -contrib-headless) and declaring one would
# install a second, clashing cv2 beside the user's; MuseTalk's environment always has one.
REQUIRES = ("numpy", "torch")
NEEDS_CV2 = known("cv2")

# The distributions this strategy removes: OpenMMLab's mmpose would share the `mmpose/` folder with
# the port, and the rest exist only to serve it.
REMOVES = ("mmpose", "mmdet", "mmcv", "mmcv-lite", "mmengine", "xtcocotools", "chumpy", "mmcv-ext-stub")
