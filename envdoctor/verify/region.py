"""Where a lip-sync model painted: the region a verification measures when envdoctor knows the input.

For a still face every output frame is the input with a generated region pasted in, so the pixels
that differ from the input in a good share of the frames are that region; a face detector run on
the output could land anywhere when the generated mouth is noise (synthetic weights). MuseTalk also
saves the crop box of every frame (its --saved_coord file), which bounds that region and, for a
video input, is the region itself.
"""

from __future__ import annotations

import io
import math
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from envdoctor.errors import EnvdoctorError
from envdoctor.verify import media, stream
from envdoctor.verify.face import Box
from envdoctor.verify.verdicts import RegionSource

if TYPE_CHECKING:
    import numpy as np

DIFF_LEVEL = 10
"""Grey levels a pixel must differ from the input by to count as generated (h264 at MuseTalk's
crf 18 moves a still picture by about 1 on average)."""
DIFF_FRACTION = 0.1
"""Share of the frames in which a pixel must differ from the input to belong to the region."""
DIFF_SIZE = 320
"""The long side, in pixels, the input and the output are compared at."""
STILL_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp")

CropBox = tuple[int, int, int, int]
"""x1, y1, x2, y2 of one frame's crop, as MuseTalk saves it; all zeros where it found no face."""


class CoordinatesError(EnvdoctorError, ValueError):
    """A crop-coordinates file that is not a plain list of boxes (or asks to run code): refused."""

    code = "coordinates-refused"


@dataclass(frozen=True)
class Region:
    box: Box | None
    """In the output's own pixels; None when nothing was generated (the output equals the input)."""
    source: RegionSource
    detail: str
    """One sentence: how the region was found."""


# Only what numpy needs to rebuild its scalars (np.int32(5) pickles as scalar(dtype('int32'), b'...')).
_ALLOWED = {
    ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "scalar"),
    ("numpy", "dtype"),
}


class _Restricted(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> object:
        if (module, name) not in _ALLOWED:
            raise CoordinatesError(f"the crop-coordinates file asks for {module}.{name}; only numbers are read")
        return super().find_class(module, name)


def read_crop_boxes(path: Path) -> tuple[CropBox, ...]:
    """The per-frame crop boxes in MuseTalk's coordinates file, read without running what it holds."""
    try:
        data = _Restricted(io.BytesIO(path.read_bytes())).load()
    except CoordinatesError:
        raise
    except Exception as exc:
        raise CoordinatesError(f"{path} is not a readable crop-coordinates file: {exc}") from None
    if not isinstance(data, (list, tuple)):
        raise CoordinatesError(f"{path} holds a {type(data).__name__}, not a list of crop boxes")
    boxes = []
    for item in data:
        if not isinstance(item, (list, tuple)) or len(item) != 4:
            raise CoordinatesError(f"{path} holds {item!r} where a crop box (x1, y1, x2, y2) belongs")
        try:
            boxes.append(tuple(int(v) for v in item))
        except (TypeError, ValueError):
            raise CoordinatesError(f"{path} holds {item!r}, which is not four numbers") from None
    return tuple(boxes)  # type: ignore[arg-type]


def crop_bounds(boxes: tuple[CropBox, ...], extra_margin: int, width: int, height: int) -> Box | None:
    """The union of the frames' crop boxes as MuseTalk pastes them (v1.5 adds `extra_margin` below)."""
    found = [b for b in boxes if any(b)]
    if not found:
        return None
    x1 = max(0, min(b[0] for b in found))
    y1 = max(0, min(b[1] for b in found))
    x2 = min(width, max(b[2] for b in found))
    y2 = min(height, max(b[3] + extra_margin for b in found))
    if x2 <= x1 or y2 <= y1:
        return None
    return Box(x1, y1, x2 - x1, y2 - y1)


def difference_mask(video: Path, still: Path, w: int, h: int) -> np.ndarray:
    """Pixels (at w x h) that differ from the still input by more than DIFF_LEVEL in DIFF_FRACTION of frames."""
    import numpy as np

    base = media.read_gray_frames(still, w, h, max_frames=1)[0].astype(np.int16)
    counts = np.zeros((h, w), dtype=np.int32)
    n = 0
    for batch in stream.gray_frames(video, w, h):
        counts += (np.abs(batch.astype(np.int16) - base) > DIFF_LEVEL).sum(axis=0, dtype=np.int32)
        n += len(batch)
    return counts >= max(1, math.ceil(DIFF_FRACTION * n))


def locate(
    video: Path, face_input: Path, crop_boxes: tuple[CropBox, ...] | None = None, extra_margin: int = 0
) -> Region | None:
    """The region of `video` that was generated from `face_input`; None when it cannot be told (a
    video input without crop coordinates: the verifier then looks for a face)."""
    import numpy as np

    info = media.probe(video)
    crop = crop_bounds(crop_boxes, extra_margin, info.width, info.height) if crop_boxes else None
    crop_said = f"MuseTalk's crop box {_xywh(crop)}" if crop else ""
    if face_input.suffix.lower() not in STILL_SUFFIXES:
        if crop is None:
            return None
        return Region(crop, RegionSource.CROP, f"the region is {crop_said} (the input is a video).")
    w, h = media.scaled_size(info.width, info.height, DIFF_SIZE)
    mask = difference_mask(video, face_input, w, h)
    sx, sy = info.width / w, info.height / h
    if crop is not None:
        limit = np.zeros_like(mask)
        limit[
            int(crop.y / sy) : math.ceil((crop.y + crop.h) / sy), int(crop.x / sx) : math.ceil((crop.x + crop.w) / sx)
        ] = 1
        mask &= limit
    # Lone pixels and one-pixel edges are the encoder's, not the model's.
    mask = _open3(mask)
    within = f" within {crop_said}" if crop else ""
    rule = f"more than {DIFF_LEVEL} grey levels in {DIFF_FRACTION:.0%} of the frames"
    if not mask.any():
        return Region(
            None, RegionSource.DIFFERENCE, f"no region of the output differs from the input{within} by {rule}."
        )
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    x0, x1 = int(cols[0] * sx), min(info.width, math.ceil((cols[-1] + 1) * sx))
    y0, y1 = int(rows[0] * sy), min(info.height, math.ceil((rows[-1] + 1) * sy))
    box = Box(x0, y0, x1 - x0, y1 - y0)
    return Region(box, RegionSource.DIFFERENCE, f"the region {_xywh(box)} differs from the input{within} by {rule}.")


def _open3(mask: np.ndarray) -> np.ndarray:
    """Binary opening with a 3x3 square: what survives is at least 3 pixels wide both ways."""
    import numpy as np

    def shifted(m: np.ndarray, combine: str) -> np.ndarray:
        pad = np.pad(m, 1, constant_values=combine == "all")
        h, w = m.shape
        views = [pad[dy : dy + h, dx : dx + w] for dy in range(3) for dx in range(3)]
        return np.logical_and.reduce(views) if combine == "all" else np.logical_or.reduce(views)

    return shifted(shifted(mask, "all"), "any")


def _xywh(b: Box | None) -> str:
    return "none" if b is None else f"{b.x},{b.y},{b.w}x{b.h}"
