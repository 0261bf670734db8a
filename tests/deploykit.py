"""What the deployment tests share: a small pure-Python wheel they write, and envdoctor run as a command."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

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


def envdoctor_cli(*args: str) -> subprocess.CompletedProcess[str]:
    """`python -m envdoctor ARGS` from this checkout, in a process of its own."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-m", "envdoctor", *args], capture_output=True, text=True, env=env)
