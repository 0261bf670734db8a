"""`init_model` and `inference_topdown`, with mmpose's signatures, for the DWPose model MuseTalk uses."""

import os
import warnings
from pathlib import Path

import numpy as np

from .._checkpoint import dataset_meta_of, load_into, read_checkpoint, state_dict_of
from .._config import parse_config
from .._errors import NotProvidedError, UnsupportedConfigError
from .._nn import RTMPose
from .._topdown import run
from .._wholebody import NUM_KEYPOINTS, flip_indices

__all__ = ["inference_topdown", "init_model"]


FAST_ENV = "ENVDOCTOR_DWPOSE_FAST"


def init_model(config, checkpoint=None, device="cuda:0", cfg_options=None, trust_checkpoint=False, fast=None):
    """Build the top-down RTMPose model of `config` and load `checkpoint` into it.

    `config` is an mmpose config file (read, never executed); `checkpoint` an mmpose checkpoint
    (`{'state_dict': ...}`) or a bare state dict. `trust_checkpoint` (or the environment variable
    ENVDOCTOR_DWPOSE_TRUST_CHECKPOINT=1) allows a checkpoint that weights_only=True cannot read.

    By default the port runs mmpose's operations in mmpose's order, so its keypoints and scores
    equal mmpose's. `fast` (or ENVDOCTOR_DWPOSE_FAST=1) folds the batch norms into the convolutions
    and runs the flip test as one batch: faster, and different from mmpose by float rounding only.
    """
    if not isinstance(config, (str, Path)):
        raise UnsupportedConfigError(
            type(config).__name__, "init_model takes a config file path here, not an mmengine Config object"
        )
    if cfg_options:
        raise UnsupportedConfigError(config, "cfg_options are not supported")
    spec = parse_config(config)
    model = RTMPose(spec)
    meta = None
    if checkpoint is None:
        warnings.warn("mmpose-free: init_model() without a checkpoint: the model has random weights.", stacklevel=2)
    else:
        loaded = read_checkpoint(checkpoint, trust=trust_checkpoint)
        load_into(model, state_dict_of(loaded, checkpoint), checkpoint)
        meta = dataset_meta_of(loaded)
    model.dataset_meta = _dataset_meta(meta, spec)
    model.cfg = spec
    model.to(device)
    model.eval()
    if fast if fast is not None else os.environ.get(FAST_ENV, "").strip().lower() in ("1", "true", "yes"):
        model.fuse()
    return model


def _dataset_meta(meta, spec):
    # Like mmpose: the checkpoint's dataset metadata first, else the config's dataset (COCO-WholeBody
    # for every config this port accepts, which it checks by the keypoint count).
    flips = None
    if meta is not None and meta.get("flip_indices") is not None:
        flips = [int(i) for i in meta["flip_indices"]]
    elif spec.num_keypoints == NUM_KEYPOINTS:
        flips = flip_indices()
    if flips is None or len(flips) != spec.num_keypoints:
        if spec.flip_test:
            raise UnsupportedConfigError(
                spec.config,
                f"the flip test needs the mirror pairs of its {spec.num_keypoints} keypoints, which neither "
                "the checkpoint's metadata nor the port's COCO-WholeBody table gives",
            )
        flips = list(range(spec.num_keypoints))
    return {
        "dataset_name": (meta or {}).get("dataset_name", "coco_wholebody"),
        "num_keypoints": spec.num_keypoints,
        "flip_indices": flips,
    }


def _read_image(img):
    import cv2

    if isinstance(img, (str, Path)):
        array = cv2.imread(str(img), cv2.IMREAD_COLOR)
        if array is None:
            raise FileNotFoundError(f"cannot read image {img}")
        return array
    array = np.asarray(img)
    if array.ndim != 3 or array.shape[2] != 3:
        raise ValueError(f"inference_topdown expects an HxWx3 BGR image, got shape {array.shape}")
    return array


def inference_topdown(model, img, bboxes=None, bbox_format="xyxy"):
    """Keypoints for each box of `img` (the whole image when no box is given), as PoseDataSamples."""
    image = _read_image(img)
    if bboxes is None or len(bboxes) == 0:
        h, w = image.shape[:2]
        boxes = np.array([[0, 0, w, h]], dtype=np.float32)
    else:
        boxes = np.asarray(bboxes, dtype=np.float32).reshape(-1, 4)
        if bbox_format == "xywh":
            boxes = np.concatenate([boxes[:, :2], boxes[:, :2] + boxes[:, 2:]], axis=1)
        elif bbox_format != "xyxy":
            raise ValueError(f"bbox_format must be 'xyxy' or 'xywh', not {bbox_format!r}")
    return run(model, image, boxes, model.dataset_meta["flip_indices"])


def __getattr__(name):
    if name.startswith("_"):
        raise AttributeError(name)
    raise NotProvidedError(f"mmpose.apis.{name}")
