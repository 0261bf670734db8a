"""A shared test environment: the OpenMMLab stack on mmcv-lite, with envdoctor's `_ext` stub installed.

`stub_env()` returns the venv directory: torch "vision" (2.14.1 + torchvision 0.29.1 from local disk),
numpy<2, mmcv-lite 2.1.0, mmengine, mmdet, mmpose (tests/envkit.OPENMMLAB), and the stub installed with
`envdoctor.stub.install()` (so `uv pip list` shows mmcv-ext-stub). Built once (envkit caches the venv),
the stub reinstalled only when the generated text changes; a call after that costs a file read and a
hash. Treat the environment as read-only: tests that install or remove things build their own.
"""

from __future__ import annotations

import fcntl
import hashlib
from pathlib import Path

from envkit import ENV_ROOT, OPENMMLAB, build_env, python_of

from envdoctor.stub import generate, install
from envdoctor.target import resolve

STUB_ENV_PACKAGES = [*OPENMMLAB, "numpy<2"]
_ready: dict[Path, str] = {}


def _mmcv_dir(env: Path) -> Path:
    found = sorted(env.glob("lib/python*/site-packages/mmcv"))
    if not found:
        raise RuntimeError(f"{env} has no mmcv package")
    return found[0]


def stub_env() -> Path:
    """The venv with the OpenMMLab stack and the stub installed (built on first use, then cached)."""
    env = build_env("stub-openmmlab", STUB_ENV_PACKAGES, torch="vision")
    mmcv_dir = _mmcv_dir(env)
    want = hashlib.sha256(generate(mmcv_dir).text.encode()).hexdigest()
    if _ready.get(env) == want:
        return env
    marker = env / ".stubenv-stub"
    with open(ENV_ROOT / f".{env.name}.stub.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        ext = mmcv_dir / "_ext.py"
        current = hashlib.sha256(ext.read_bytes()).hexdigest() if ext.is_file() else None
        if current != want or not marker.is_file() or marker.read_text() != want:
            install(resolve(python=str(python_of(env))))
            marker.write_text(want)
    _ready[env] = want
    return env
