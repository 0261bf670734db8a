"""Find a CPython X.Y on this machine: uv's own discovery, then PATH, then pyenv's versions.

uv alone misses a pyenv interpreter that is installed but not selected (pyenv's shim for it exits
127), and on a machine without GitHub access uv cannot download one either.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from envdoctor import process
from envdoctor.inside import InsideError, run_json
from envdoctor.uv import find_uv

# Python 2 syntax too: a candidate may be any old interpreter.
_ASK = "import json, sys; print(json.dumps({'series': '%d.%d' % sys.version_info[:2]}))"


@dataclass(frozen=True)
class Found:
    python: Path
    via: str
    """uv | PATH | pyenv"""


def _series_of(python: Path | str) -> str | None:
    try:
        series = run_json(python, ["-c", _ASK], what="asking its version", timeout=30, require_exit_zero=True)
    except InsideError:
        return None
    found = series.data.get("series")
    return found if isinstance(found, str) else None


def _via_uv(series: str) -> Path | None:
    try:
        uv = find_uv()
    except FileNotFoundError:  # no uv: the other ways still work
        return None
    try:
        proc = uv.run(["python", "find", "--no-python-downloads", series], check=False, timeout=60)
    except (OSError, subprocess.SubprocessError):
        return None
    out = proc.stdout.strip()
    return Path(out) if proc.returncode == 0 and out else None


def _via_path(series: str) -> Path | None:
    exe = shutil.which(f"python{series}")
    return Path(exe) if exe else None


def _via_pyenv(series: str) -> list[Path]:
    """pyenv's installed X.Y.* interpreters, newest first (pyenv's root from `pyenv root`)."""
    pyenv = shutil.which("pyenv")
    if not pyenv:
        return []
    try:
        root = process.run([pyenv, "root"], timeout=30).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return []
    versions = Path(root) / "versions"
    if not root or not versions.is_dir():
        return []
    # Final releases only (3.13.1, not 3.13.0t or 3.13-dev), the newest patch first.
    patches = [
        (int(v.name[len(series) + 1 :]), v) for v in versions.glob(f"{series}.*") if v.name[len(series) + 1 :].isdigit()
    ]
    return [
        v / "bin" / f"python{series}"
        for _, v in sorted(patches, reverse=True)
        if (v / "bin" / f"python{series}").is_file()
    ]


def find_python(series: str) -> Found | None:
    """A working CPython `series` ("3.13"); None when none of the three ways finds one."""
    for via, candidates in (
        ("uv", [_via_uv(series)]),
        ("PATH", [_via_path(series)]),
        ("pyenv", _via_pyenv(series)),
    ):
        for python in candidates:
            if python is not None and _series_of(python) == series:
                return Found(python, via)
    return None
