"""Write a pure-Python wheel directly: the one place envdoctor packs its own distributions.

envdoctor installs two distributions of its own into targets (the mmcv `_ext` stub and the
mmpose-free port). A wheel is a zip with a dist-info folder, so writing it needs no build backend,
no network and no isolation. Fixed timestamps, modes and sorted entries make the bytes depend on the
content only, so a hash of the wheel stays valid as long as its content does.
"""

from __future__ import annotations

import base64
import hashlib
import json
import zipfile
from collections.abc import Sequence
from pathlib import Path

_EPOCH = (1980, 1, 1, 0, 0, 0)
BUILD_RECORD = "envdoctor-build.json"
"""The file in a built wheel's dist-info that says what envdoctor built it with and what its `_ext` holds."""


def build_record(wheel: Path) -> dict[str, object] | None:
    """The build record of a wheel envdoctor built (`<dist-info>/envdoctor-build.json`); None when the
    wheel has none (a CPU build, someone else's wheel) or cannot be read."""
    try:
        with zipfile.ZipFile(wheel) as zf:
            name = next((n for n in zf.namelist() if n.endswith(f".dist-info/{BUILD_RECORD}")), None)
            record = json.loads(zf.read(name)) if name else None
    except (OSError, zipfile.BadZipFile, ValueError):
        return None
    return record if isinstance(record, dict) else None


def wheel_text(generator: str = "envdoctor", tag: str = "py3-none-any") -> str:
    return f"Wheel-Version: 1.0\nGenerator: {generator}\nRoot-Is-Purelib: true\nTag: {tag}\n"


def _record_hash(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def write_wheel(path: Path, dist_info: str, files: Sequence[tuple[str, bytes]]) -> Path:
    """Write `files` (archive name, bytes; METADATA and WHEEL included) plus a RECORD to `path`."""
    # Sorted, the dist-info folder last (as wheels are read): the bytes never depend on the caller's order.
    entries = sorted(files, key=lambda f: (f[0].startswith(f"{dist_info}/"), f[0]))
    record = "".join(f"{name},{_record_hash(data)},{len(data)}\n" for name, data in entries)
    record += f"{dist_info}/RECORD,,\n"
    entries.append((f"{dist_info}/RECORD", record.encode()))
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")  # a reader never sees half a wheel
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in entries:
            info = zipfile.ZipInfo(name, date_time=_EPOCH)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, data)
    tmp.replace(path)
    return path
