"""Find the face in a few frames with weights that ship inside a package (no downloads).

scikit-image's LBP frontal-face cascade is used because it travels inside the scikit-image wheel and
works whatever OpenCV is installed (or none); it finds the face box, and the mouth region is taken
as a fixed part of that box.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np


@dataclass(frozen=True)
class Box:
    x: int
    y: int
    w: int
    h: int

    def mouth(self, frame_w: int, frame_h: int) -> Box:
        """The mouth region: x 25-75 %, y 65-105 % of the face box, clipped to the frame."""
        x0 = self.x + int(round(0.25 * self.w))
        x1 = self.x + int(round(0.75 * self.w))
        y0 = self.y + int(round(0.65 * self.h))
        y1 = self.y + int(round(1.05 * self.h))
        x0, x1 = max(0, x0), min(frame_w, x1)
        y0, y1 = max(0, y0), min(frame_h, y1)
        return Box(x0, y0, max(1, x1 - x0), max(1, y1 - y0))


@cache
def _cascade() -> Any:
    from skimage import data, feature

    return feature.Cascade(data.lbp_frontal_face_cascade_filename())


def detect(gray: np.ndarray, near: Box | None = None) -> Box | None:
    """The largest frontal face in a uint8 grey frame, or None.

    With `near` (the face found in an earlier frame) only the region around it is searched, at
    sizes close to it, which is several times cheaper; when that finds nothing the whole frame is.
    """
    if near is not None:
        h, w = gray.shape
        x0, y0 = max(0, near.x - near.w), max(0, near.y - near.h)
        x1, y1 = min(w, near.x + 2 * near.w), min(h, near.y + 2 * near.h)
        lo = max(24, int(near.w * 0.7))
        hi = min(int(near.w * 1.45), x1 - x0, y1 - y0)
        if hi >= lo:
            box = _search(gray[y0:y1, x0:x1], lo, hi)
            if box is not None:
                return Box(box.x + x0, box.y + y0, box.w, box.h)
    h, w = gray.shape
    return _search(gray, max(24, min(h, w) // 10), min(h, w))


def _search(gray: np.ndarray, smallest: int, largest: int) -> Box | None:
    found = _cascade().detect_multi_scale(
        gray.astype("float32") / 255.0,
        scale_factor=1.2,
        step_ratio=1,
        min_size=(smallest, smallest),
        max_size=(largest, largest),
    )
    if not found:
        return None
    best = max(found, key=lambda d: d["width"] * d["height"])
    return Box(int(best["c"]), int(best["r"]), int(best["width"]), int(best["height"]))
