"""The mmpose-free path: DWPose in plain PyTorch, installed into the target as the `mmpose` package.

Library API (what `envdoctor fix --strategy mmpose-free` calls):
- build_wheel(outdir) -> Path: the `envdoctor-mmpose-free` wheel, built from probes/mmpose_free/mmpose.
- requirements(wheel) -> list[str]: what to install with uv (a direct reference to the wheel).
- REMOVES: the distributions to uninstall first (never leave OpenMMLab's mmpose beside the port).
- is_port(top_level_files) / DIST_NAME / MARKER_FILE: how a check recognises an installed port.

The payload itself must not import envdoctor: it runs inside the user's environment (Python 3.8+).
"""

from __future__ import annotations

from pathlib import Path

from envdoctor.dwpose.build import BuiltWheel, build_hashed, build_wheel
from envdoctor.dwpose.meta import (
    DIST_NAME,
    MARKER_FILE,
    MARKER_MODULE,
    NEEDS_CV2,
    PAYLOAD,
    REMOVES,
    REQUIRES,
    STRATEGY,
    VERSION,
)

__all__ = [
    "DIST_NAME",
    "MARKER_FILE",
    "MARKER_MODULE",
    "NEEDS_CV2",
    "PAYLOAD",
    "REMOVES",
    "REQUIRES",
    "STRATEGY",
    "VERSION",
    "BuiltWheel",
    "build_hashed",
    "build_wheel",
    "convert_command",
    "is_port",
    "requirements",
]


def requirements(wheel: Path) -> list[str]:
    """The requirement strings that install the port from a wheel built by build_wheel()."""
    return [f"{DIST_NAME} @ {Path(wheel).resolve().as_uri()}"]


def convert_command(python: Path, src: Path, dst: Path | None = None) -> list[str]:
    """argv to run with the target's interpreter (the port installed there).

    Without `dst`: exit 0 when `src` loads with torch.load(weights_only=True), else 1 and why. With `dst`:
    rewrite a checkpoint the user trusts as a weights-only one (only on the user's say-so: it runs the
    pickle code inside `src`).
    """
    if dst is None:
        return [str(python), "-m", "mmpose._convert", str(src), "--check"]
    return [str(python), "-m", "mmpose._convert", str(src), str(dst), "--trust"]


def is_port(dist_name: str | None = None, files: list[str] | tuple[str, ...] = ()) -> bool:
    """True when a distribution (by name, or by the files it records) is the mmpose-free port."""
    if dist_name is not None and dist_name.lower().replace("_", "-") == DIST_NAME:
        return True
    return any(str(f).replace("\\", "/") == MARKER_FILE for f in files)
