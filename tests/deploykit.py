"""What the deployment tests share: a small pure-Python wheel they write, envdoctor run as a command, and
MuseTalk's whole stack made the way a user makes it (`fix --create --strategy lite-stub`)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

from envkit import TORCH_VISION, torch_index_args

from envdoctor.wheelfile import wheel_text, write_wheel

REPO = Path(__file__).resolve().parent.parent


def pure_wheel(folder: Path, name: str, version: str, requires: str = "") -> Path:
    """`name` `version` as a py3-none-any wheel (`requires`: Requires-Dist lines, each ending in a newline)."""
    di = f"{name}-{version}.dist-info"
    meta = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n{requires}".encode()
    return write_wheel(
        folder / f"{name}-{version}-py3-none-any.whl",
        di,
        [(f"{name}/__init__.py", f"VERSION = {version!r}\n".encode()), (f"{di}/METADATA", meta),
         (f"{di}/WHEEL", wheel_text().encode())],
    )  # fmt: skip


def envdoctor_cli(*args: str, env: Mapping[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """`python -m envdoctor ARGS` from this checkout, in a process of its own (`env`: added variables)."""
    environ = {**os.environ, **(env or {}), "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-m", "envdoctor", *args], capture_output=True, text=True, env=environ)


def fixed_lite_stub(folder: Path) -> Path:
    """A new environment made by `fix --create --strategy lite-stub --yes` on Python 3.11: mmcv-lite with the
    generated `_ext` stub, mmengine, mmdet, mmpose and the rest of MuseTalk's stack, and ffmpeg linked in.

    torch 2.14.1 + torchvision 0.29.1 from the local index (PyPI's build, run on the CPU here): the local
    2.13.0+cpu torch has no torchvision of its own build on this machine, and PyPI's does not load beside it
    (breaker 10). Skips, naming the variable to set, where there is no local torch index."""
    args = torch_index_args()
    pins = folder / "torch-pins.txt"
    pins.parent.mkdir(parents=True, exist_ok=True)
    pins.write_text(f"torch=={TORCH_VISION[0]}\ntorchvision=={TORCH_VISION[1]}\n")
    venv = folder / "fixed"
    fixed = envdoctor_cli("fix", "--venv", str(venv), "--create", "--python-version", "3.11", "--strategy",
                          "lite-stub", "--yes", *args, env={"UV_CONSTRAINT": str(pins)})  # fmt: skip
    assert fixed.returncode == 0, fixed.stdout[-4000:] + fixed.stderr[-2000:]
    assert "OK: lite-stub: applied and verified (envdoctor check exits 0)" in fixed.stdout, fixed.stdout[-3000:]
    return venv
