"""A small stand-in for a MuseTalk checkout, written by the tests (none of MuseTalk's code).

It has MuseTalk's shape where envdoctor looks: a `scripts/` entry point run with `python -m`,
a `musetalk/` package of its own, a `musetalk/utils/__init__.py` that appends its folder to
sys.path so that vendored `face_detection` / `face_parsing` import as top-level modules, a
dynamic `__import__` of scipy.io, and an optional import guarded by try/except.

MUSETALK_LIKE adds what a real checkout's scan must not take for inference needs: training entry points
(train.py, scripts/preprocess.py) and the modules only they reach, a vendored whisper that no entry point
imports, a second inference entry point with a module no table names, one its requirements.txt names,
imports inside function bodies and behind a flag, and the S3FD detector that only a computed `__import__` reaches.
"""

from __future__ import annotations

from pathlib import Path

FILES = {
    "scripts/__init__.py": "",
    "scripts/inference.py": """\
import argparse
import os

import numpy as np
import torch
from omegaconf import OmegaConf
from transformers import WhisperModel

from musetalk.utils.blending import blend
from musetalk.utils.preprocessing import landmarks


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--inference_config")
    return parser.parse_args()
""",
    "musetalk/utils/__init__.py": """\
import sys
from os.path import abspath, dirname

here = dirname(abspath(__file__))
parent = dirname(here)
sys.path.append(parent + '/utils')
""",
    "musetalk/utils/blending.py": """\
import cv2
from PIL import Image
from face_parsing import Parser


def blend(a, b):
    return a
""",
    "musetalk/utils/preprocessing.py": """\
from face_detection import Aligner
from mmpose.apis import inference_topdown, init_model
from mmpose.structures import merge_data_samples
import librosa

try:
    from iou import fast_iou
except ImportError:
    fast_iou = None


def landmarks(frame):
    return frame
""",
    "musetalk/utils/face_detection/__init__.py": "from .api import Aligner\n",
    "musetalk/utils/face_detection/api.py": """\
class Aligner:
    def __init__(self, name="sfd"):
        self.module = __import__("face_detection.detection." + name, globals(), locals(), [name], 0)
        self.io = __import__("scipy.io")
""",
    "musetalk/utils/face_parsing/__init__.py": "class Parser:\n    pass\n",
    "app.py": "import gradio\nimport requests\n",
}

THIRD_PARTY = {
    "numpy",
    "torch",
    "omegaconf",
    "transformers",
    "cv2",
    "PIL",
    "mmpose",
    "librosa",
    "scipy",
    "iou",
    "gradio",
    "requests",
}
VENDORED = {"face_detection", "face_parsing"}


MUSETALK_LIKE = {
    "train.py": """\
import accelerate

from musetalk.data.audio import mel
from musetalk.utils.training_utils import setup
""",
    "scripts/preprocess.py": """\
import decord

from musetalk.utils.preprocessing import landmarks
""",
    "musetalk/__init__.py": "",
    "musetalk/utils/training_utils.py": """\
import bitsandbytes


def setup():
    import envdoctor_standin_training_lazy
""",
    "musetalk/data/__init__.py": "",
    "musetalk/data/audio.py": """\
import lws


def mel(use_lws=False):
    return None
""",
    # MuseTalk picks its face detector with `__import__("face_detection.detection." + name)`: the S3FD one
    # tries a compiled helper first and has a pure-Python fallback.
    "musetalk/utils/face_detection/detection/__init__.py": "",
    "musetalk/utils/face_detection/detection/sfd/__init__.py": "from .detect import detect\n",
    "musetalk/utils/face_detection/detection/sfd/detect.py": """\
import scipy.io as sio

from .bbox import IOU


def detect(net, img):
    return img
""",
    "musetalk/utils/face_detection/detection/sfd/bbox.py": """\
try:
    from iou import IOU
except BaseException:

    def IOU(a, b):
        return 0.0
""",
    "musetalk/whisper/__init__.py": "from .normalizers import EnglishTextNormalizer\n",
    "musetalk/whisper/normalizers/__init__.py": "from .english import EnglishTextNormalizer\n",
    "musetalk/whisper/normalizers/english.py": """\
from more_itertools import windowed


class EnglishTextNormalizer:
    pass
""",
    "scripts/realtime_inference.py": """\
import argparse
import envdoctor_standin_nowhere
import envdoctor_standin_declared

from musetalk.utils.blending import blend

USE_FLAGGED = False
if USE_FLAGGED:
    import envdoctor_standin_flagged


def main():
    import envdoctor_standin_lazy
    import yaml

    try:
        import envdoctor_standin_reraised
    except ImportError:
        raise SystemExit("install it")
""",
    "requirements.txt": """\
# what the README installs
diffusers==0.30.2
opencv-python-headless==4.9.0.80
envdoctor-standin-declared==1.0  # a distribution named in the checkout only
-r extra.txt
--extra-index-url https://example.invalid/simple
git+https://example.invalid/some/repo.git
imageio[ffmpeg]
""",
}
TRAINING_ONLY = {"accelerate": "train.py:1", "decord": "scripts/preprocess.py:1", "lws": "musetalk/data/audio.py:1"}
TRAINING_ONLY_DEEP = {"bitsandbytes": "musetalk/utils/training_utils.py:1"}
UNREACHED = {"more_itertools": "musetalk/whisper/normalizers/english.py:1"}
NO_DISTRIBUTION = "envdoctor_standin_nowhere"
DECLARED = ("envdoctor_standin_declared", "envdoctor-standin-declared")


def write_musetalk_like(root: Path) -> Path:
    return write_checkout(root, MUSETALK_LIKE)


def write_checkout(root: Path, extra: dict[str, str] | None = None) -> Path:
    for rel, text in {**FILES, **(extra or {})}.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


# What `smoke --bench` calls, by MuseTalk's names, as tiny numpy fakes (plus a cv2 and a transformers of the
# same shape): each stage sleeps a little, so that every stage takes time the timer must attribute to it.
BENCH_STAGE_SLEEP = {"whisper": 0.004, "unet": 0.003, "vae_decode": 0.002, "blend": 0.001, "compose": 0.002}
"""Seconds per frame each fake stage sleeps (whisper: per clip frame, the others per frame of a batch)."""
BENCH = {
    "cv2.py": """\
import numpy as np

INTER_LANCZOS4 = 4


def resize(img, size, interpolation=None):
    w, h = size
    ys = np.arange(h) * img.shape[0] // h
    xs = np.arange(w) * img.shape[1] // w
    return img[ys][:, xs]


def imwrite(path, img):
    with open(path, "wb") as fh:
        fh.write(img.tobytes())
    return True
""",
    "transformers.py": """\
class WhisperModel:
    @classmethod
    def from_pretrained(cls, path):
        return cls()

    def to(self, device=None, dtype=None):
        return self

    def eval(self):
        return self

    def requires_grad_(self, flag):
        return self
""",
    "musetalk/utils/fake.py": f"""\
import time

import numpy as np

SLEEP = {BENCH_STAGE_SLEEP!r}


class Tensor(np.ndarray):
    def to(self, *args, **kwargs):
        return self


def tensor(shape):
    return np.zeros(shape, dtype=np.float32).view(Tensor)


def nap(stage, frames=1):
    time.sleep(SLEEP[stage] * frames)
""",
    "musetalk/utils/utils.py": """\
import numpy as np

from musetalk.utils.fake import Tensor, nap, tensor


class Net:
    dtype = "float32"

    def half(self):
        return self

    def to(self, device):
        return self


class Sample:
    def __init__(self, sample):
        self.sample = sample


class UNetModel(Net):
    def __call__(self, latents, timesteps, encoder_hidden_states=None):
        nap("unet", len(latents))
        return Sample(tensor((len(latents), 4, 8, 8)))


class UNet:
    def __init__(self):
        self.model = UNetModel()


class VAE:
    def __init__(self):
        self.vae = Net()

    def get_latents_for_unet(self, img):
        return tensor((1, 8, 8, 8))

    def decode_latents(self, latents):
        nap("vae_decode", len(latents))
        return [np.full((16, 16, 3), 128, dtype=np.float32) for _ in range(len(latents))]


class PositionalEncoding(Net):
    def __call__(self, x):
        return x


def load_all_model(unet_model_path=None, vae_type="sd-vae", unet_config=None, device=None):
    return VAE(), UNet(), PositionalEncoding()


def datagen(whisper_chunks, vae_encode_latents, batch_size=8, delay_frame=0, device="cuda:0"):
    for i in range(0, len(whisper_chunks), batch_size):
        chunk = whisper_chunks[i : i + batch_size]
        if len(chunk) < batch_size and device != "cpu":  # MuseTalk moves a short last batch to `device`
            raise RuntimeError("Found no NVIDIA driver on your system")
        latents = [vae_encode_latents[(i + j) % len(vae_encode_latents)] for j in range(len(chunk))]
        yield np.stack(chunk).view(Tensor), np.concatenate(latents).view(Tensor)
""",
    "musetalk/utils/audio_processor.py": """\
import wave

from musetalk.utils.fake import nap, tensor


class AudioProcessor:
    def __init__(self, feature_extractor_path=None):
        self.path = feature_extractor_path

    def get_audio_feature(self, wav_path, start_index=0, weight_dtype=None):
        with wave.open(wav_path, "rb") as w:
            length = w.getnframes() * 16000 // w.getframerate()
        return [tensor((1, 80, 3000))], length

    def get_whisper_chunk(self, features, device, weight_dtype, whisper, librosa_length, fps=25, **kwargs):
        frames = int(librosa_length / 16000 * fps)
        nap("whisper", frames)
        return [tensor((50, 384)) for _ in range(frames)]
""",
    "musetalk/utils/preprocessing.py": """\
import numpy as np


def get_landmark_and_bbox(img_list, upperbondrange=0):
    frames = [np.zeros((64, 48, 3), dtype=np.uint8) for _ in img_list]
    return [(8, 8, 40, 48) for _ in img_list], frames
""",
    "musetalk/utils/blending.py": """\
import numpy as np

from musetalk.utils.fake import nap


def get_image_prepare_material(image, face_box, upper_boundary_ratio=0.5, expand=1.5, fp=None, mode="raw"):
    return np.zeros(image.shape[:2], dtype=np.uint8), (0, 0, image.shape[1], image.shape[0])


def get_image_blending(image, face, face_box, mask_array, crop_box):
    x, y, x1, y1 = face_box
    image[y:y1, x:x1] = face
    nap("blend")
    return image


def get_image(image, face, face_box, upper_boundary_ratio=0.5, expand=1.5, mode="raw", fp=None):
    x, y, x1, y1 = face_box
    image[y:y1, x:x1] = face
    nap("compose")
    return image
""",
    "musetalk/utils/face_parsing/__init__.py": """\
class Parser:
    pass


class FaceParsing:
    def __init__(self, left_cheek_width=80, right_cheek_width=80):
        pass
""",
}


def write_bench_checkout(root: Path) -> Path:
    return write_checkout(root, BENCH)


PLACEHOLDER = b"x"


def placeholder_weights(models: Path, torch_home: Path, manifest: Path) -> Path:
    """One byte (PLACEHOLDER) at each path of the built-in manifest's v1.5 inference files (S3FD under
    `torch_home`), and a manifest at `manifest` holding each to those bytes: with ENVDOCTOR_MODELS_MANIFEST
    naming it (and TORCH_HOME the folder), a tree that passes the weights check of `smoke --app` for a stand-in
    that loads no weights."""
    import hashlib

    from envdoctor.models.manifest import TORCH_HOME, builtin

    digest = hashlib.sha256(PLACEHOLDER).hexdigest()
    lines = ['[purposes.inference]\nv15 = ["v15-inference"]\nv1 = ["v1-inference"]\n']
    for f in builtin().for_purpose("inference", "v15"):
        path = (torch_home if f.root == TORCH_HOME else models) / f.path
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(PLACEHOLDER)
        lines.append(
            f'[[file]]\npath = "{f.path}"\nroot = "{f.root}"\nsize = {len(PLACEHOLDER)}\nsha256 = "{digest}"\n'
            f'needed_for = ["v15-inference"]\nwhy = "placeholder for {f.path}"\n'
        )
    manifest.write_text("\n".join(lines))
    return manifest
