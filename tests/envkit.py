"""Real virtual environments for the tests, built with uv and cached between runs.

Each environment is keyed by a hash of what goes into it, built once under `.cache/test-envs/`
(or $ENVDOCTOR_TEST_ENVS), and shared by every test that asks for the same thing. A file lock
keeps parallel pytest processes from building the same one twice.

Torch never comes from PyPI here (that would be a multi-GB CUDA download):
- "cpu":    torch 2.13.0+cpu from the local wheel in $ENVDOCTOR_TEST_TORCH_WHEELS (default /opt/wheels).
- "vision": torch 2.14.1 + torchvision 0.29.1 from the local index in $ENVDOCTOR_TEST_TORCH_INDEX
            (default file:///opt/pypi-more/simple); uv's cache hard-links the 5 GB, so each venv costs
            little disk. Needed wherever torchvision or mmpose (which declares torchvision) goes in.
Everything else comes from PyPI, with torch and torchvision held where phase one put them.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
from collections.abc import Sequence
from pathlib import Path

from envdoctor.uv import Indexes, find_uv

REPO = Path(__file__).resolve().parent.parent
ENV_ROOT = Path(os.environ.get("ENVDOCTOR_TEST_ENVS", REPO / ".cache" / "test-envs"))
PYTHON = os.environ.get("ENVDOCTOR_TEST_PYTHON", "3.11")

TORCH_WHEELS = os.environ.get("ENVDOCTOR_TEST_TORCH_WHEELS", "/opt/wheels")
TORCH_INDEX = os.environ.get("ENVDOCTOR_TEST_TORCH_INDEX", "file:///opt/pypi-more/simple")
LOCAL_INDEX = os.environ.get("ENVDOCTOR_TEST_LOCAL_INDEX", "file:///opt/pypi/simple")

TORCH_CPU = "2.13.0"
TORCH_VISION = ("2.14.1", "0.29.1")

# The OpenMMLab stack the tests use: mmcv-lite 2.1.0 sits inside every window below.
OPENMMLAB = ["mmcv-lite==2.1.0", "mmengine==0.10.7", "mmdet==3.3.0", "mmpose==1.3.2"]
# MuseTalk v1.5's inference packages besides torch and OpenMMLab (the modern side of its pins), numpy 1
# for the OpenMMLab stack's compiled wheels.
MUSETALK_INFERENCE = [
    "numpy<2",
    "opencv-python<=4.11.0.86",
    "diffusers==0.30.2",
    "transformers==4.39.2",
    "huggingface-hub<1.0",
    "librosa==0.11.0",
    "soundfile",
    "einops==0.8.1",
    "omegaconf",
    "tqdm",
    "scipy",
    "pillow",
]
# The whole set on the lite-stub path: mmengine needs pkg_resources (setuptools <81).
MUSETALK_OPENMMLAB = [*OPENMMLAB, "setuptools<81", *MUSETALK_INFERENCE]
# chumpy's setup.py imports pip (breaker #9) and MuseTalk never imports it.
EXCLUDES = ["chumpy"]


def torch_indexes(kind: str) -> Indexes:
    if kind == "cpu":
        return Indexes(find_links=(TORCH_WHEELS,))
    # The local index first, PyPI only for what it lacks (cuda-bindings): never a torch download.
    return Indexes(
        index_url="https://pypi.org/simple",
        extra_index_urls=(TORCH_INDEX, LOCAL_INDEX),
        strategy="unsafe-first-match",
    )


def torch_requirements(kind: str) -> list[str]:
    if kind == "cpu":
        return [f"torch=={TORCH_CPU}"]
    return [f"torch=={TORCH_VISION[0]}", f"torchvision=={TORCH_VISION[1]}"]


def _key(name: str, spec: dict) -> str:
    digest = hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:10]
    return f"{name}-{digest}"


def build_env(
    name: str,
    packages: Sequence[str] = (),
    *,
    torch: str | None = None,
    excludes: Sequence[str] = EXCLUDES,
    no_deps: Sequence[str] = (),
    python: str = PYTHON,
) -> Path:
    """A venv with `packages` (plus torch of `torch` kind), built once; returns its directory.

    `no_deps` are installed last with --no-deps, to reach states a resolver would refuse
    (both mmcv and mmcv-lite, setuptools 82 beside mmengine, numpy 2 under an old wheel).
    """
    spec = {
        "packages": list(packages),
        "torch": torch,
        "excludes": list(excludes),
        "no_deps": list(no_deps),
        "python": python,
    }
    root = ENV_ROOT / _key(name, spec)
    ready = root / ".envkit-ready"
    if ready.exists():
        return root
    ENV_ROOT.mkdir(parents=True, exist_ok=True)
    with open(ENV_ROOT / f".{root.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if ready.exists():
            return root
        shutil.rmtree(root, ignore_errors=True)
        uv = find_uv()
        uv.venv(root, python=python)
        py = root / "bin" / "python"
        hold: list[Path] = []
        if torch:
            uv.pip_install(py, torch_requirements(torch), indexes=torch_indexes(torch))
            held = root / ".envkit-hold.txt"
            held.write_text("\n".join(torch_requirements(torch)) + "\n")
            hold.append(held)
        extra: list[str] = []
        if excludes:
            excl = root / ".envkit-excludes.txt"
            excl.write_text("\n".join(excludes) + "\n")
            extra += ["--excludes", str(excl)]
        if packages:
            uv.pip_install(py, list(packages), constraints=hold, extra=extra)
        if no_deps:
            uv.pip_install(py, list(no_deps), extra=["--no-deps"])
        ready.write_text(json.dumps(spec))
    return root


def python_of(env: Path) -> Path:
    return env / "bin" / "python"
