"""The region a verification measures when the input is known: where the output differs from the
still face, bounded by the crop boxes the app saved; and the crop-coordinates file read safely.

The clips are the astronaut with a generated box pasted in (tests/clips.py generated_clip): fresh
noise each frame (synthetic weights), a fixed patch, or nothing; one also moves the real face outside
the box, which is where a face detector would measure.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest

pytest.importorskip("numpy", reason="the verifier needs envdoctor's `verify` extra (numpy)")
pytest.importorskip("skimage", reason="the verifier needs envdoctor's `verify` extra (scikit-image)")
from envdoctor.tools.ffmpeg import own_ffmpeg

if own_ffmpeg() is None:
    pytest.skip("no ffmpeg: put one on PATH or install the test extra (imageio-ffmpeg)", allow_module_level=True)

import clips
import numpy as np

from envdoctor.smoke import inputs
from envdoctor.verify import media, region
from envdoctor.verify.verdicts import RegionSource, VideoVerdict
from envdoctor.verify.verify import verify

BOX = (120, 330, 96, 88)
"""x, y, w, h: on the suit, well away from the face (where the issue's detector landed)."""


@pytest.fixture(scope="module")
def material(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("region")
    speech = media.to_mono_wav(inputs.write_speech(root / "speech-full.wav"), root / "speech.wav", seconds=2.0)
    return {"speech": speech, "face": inputs.write_face(root / "face.png")}


def _clip(material: dict[str, Path], tmp_path: Path, kind: str, *, moving_face: bool = False) -> Path:
    image = media.read_rgb_frame(material["face"], 0, *_size(material["face"]))
    return clips.generated_clip(image, BOX, kind, material["speech"], tmp_path / f"{kind}.mp4", moving_face=moving_face)


def _size(path: Path) -> tuple[int, int]:
    info = media.probe(path)
    return info.width, info.height


def _near(box: tuple[int, int, int, int] | None, slack: int = 3) -> bool:
    return box is not None and all(abs(a - b) <= slack for a, b in zip(box, BOX, strict=True))


def _crop() -> tuple[region.CropBox, ...]:
    x, y, w, h = BOX
    return ((x, y, x + w, y + h),) * 3 + ((0, 0, 0, 0),)


def test_fresh_noise_in_the_generated_box_moves_and_the_region_is_that_box(
    material: dict[str, Path], tmp_path: Path
) -> None:
    clip = _clip(material, tmp_path, "noise")
    found = region.locate(clip, material["face"])
    assert found is not None and found.source is RegionSource.DIFFERENCE
    assert found.box is not None and _near((found.box.x, found.box.y, found.box.w, found.box.h)), found
    result = verify(clip, material["speech"], assess_sync=False, region=found)
    assert result.verdict is VideoVerdict.NOT_ASSESSED and result.success, result.reason
    assert "changes from frame to frame" in result.reason
    assert _near(result.region) and result.region_source is RegionSource.DIFFERENCE
    assert result.to_dict()["region_source"] == "difference"


def test_a_fixed_patch_in_the_generated_box_is_static(material: dict[str, Path], tmp_path: Path) -> None:
    clip = _clip(material, tmp_path, "fixed")
    found = region.locate(clip, material["face"])
    assert found is not None and found.box is not None
    result = verify(clip, material["speech"], assess_sync=False, region=found)
    assert result.verdict is VideoVerdict.STATIC and not result.success, result.reason
    assert _near(result.region)


def test_an_output_equal_to_its_input_is_static(material: dict[str, Path], tmp_path: Path) -> None:
    clip = _clip(material, tmp_path, "same")
    found = region.locate(clip, material["face"], _crop())
    assert found is not None and found.box is None
    result = verify(clip, material["speech"], assess_sync=False, region=found)
    assert result.verdict is VideoVerdict.STATIC and not result.success
    assert "nothing was generated" in result.reason


def test_a_moving_face_outside_a_still_generated_box_does_not_pass(material: dict[str, Path], tmp_path: Path) -> None:
    clip = _clip(material, tmp_path, "fixed", moving_face=True)
    detected = verify(clip, material["speech"], assess_sync=False)
    # What a face detector on the output says: the real face moves, so the clip would pass.
    assert detected.region_source is RegionSource.FACE and detected.face_fraction >= 0.5
    assert detected.verdict is VideoVerdict.NOT_ASSESSED and detected.success, detected.reason
    found = region.locate(clip, material["face"], _crop(), extra_margin=0)
    assert found is not None and found.box is not None
    result = verify(clip, material["speech"], assess_sync=False, region=found)
    assert result.verdict is VideoVerdict.STATIC and not result.success, result.reason
    assert _near(result.region), result.region


def test_crop_boxes_are_read_with_numpy_scalars(tmp_path: Path) -> None:
    path = tmp_path / "face.pkl"
    boxes = [(np.int32(10), np.int64(20), 30, 40), (0.0, 0.0, 0.0, 0.0)]
    path.write_bytes(pickle.dumps(boxes))
    assert region.read_crop_boxes(path) == ((10, 20, 30, 40), (0, 0, 0, 0))
    assert region.crop_bounds(region.read_crop_boxes(path), 10, 35, 45) == region.Box(10, 20, 20, 25)


class _Payload:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str]]:
        import os

        return os.system, (f"touch {self.marker}",)


def test_a_coordinates_file_that_runs_a_command_is_refused(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    path = tmp_path / "face.pkl"
    path.write_bytes(pickle.dumps([_Payload(marker)]))
    with pytest.raises(region.CoordinatesError, match="system"):
        region.read_crop_boxes(path)
    assert not marker.exists()
    path.write_bytes(pickle.dumps({"not": "boxes"}))
    with pytest.raises(region.CoordinatesError, match="not a list"):
        region.read_crop_boxes(path)
