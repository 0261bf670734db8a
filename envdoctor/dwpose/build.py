"""Build the `envdoctor-mmpose-free` wheel from the port's source folder (payload/mmpose).

A pure-Python wheel is a zip with a dist-info folder; writing it directly needs no build backend,
no network and no isolation, and gives byte-identical wheels for identical sources (fixed
timestamps, sorted entries), so a lockfile hash of the wheel stays valid.
"""

from __future__ import annotations

import base64
import hashlib
import zipfile
from dataclasses import dataclass
from pathlib import Path

from envdoctor.dwpose.meta import DIST_NAME, PAYLOAD, REQUIRES, SUMMARY, VERSION

_EPOCH = (1980, 1, 1, 0, 0, 0)
_TAG = "py3-none-any"
_WHEEL_TEXT = "Wheel-Version: 1.0\nGenerator: envdoctor\nRoot-Is-Purelib: true\nTag: {tag}\n"


@dataclass(frozen=True)
class BuiltWheel:
    path: Path
    sha256: str


def _digest(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def _payload_files() -> list[tuple[str, bytes]]:
    files = []
    for path in sorted(PAYLOAD.rglob("*")):
        if path.is_dir() or "__pycache__" in path.parts or path.suffix in (".pyc", ".pyo"):
            continue
        files.append((path.relative_to(PAYLOAD.parent).as_posix(), path.read_bytes()))
    return files


def metadata_text() -> str:
    lines = [
        "Metadata-Version: 2.1",
        f"Name: {DIST_NAME}",
        f"Version: {VERSION}",
        f"Summary: {SUMMARY}",
        "Requires-Python: >=3.8",
        *(f"Requires-Dist: {req}" for req in REQUIRES),
        # Informational (installers ignore it): this distribution stands in for `mmpose`.
        "Provides-Dist: mmpose",
        "Keywords: envdoctor,mmpose-free,dwpose,musetalk",
        "Description-Content-Type: text/plain",
        "",
        "envdoctor's mmpose-free DWPose port. It installs a top-level `mmpose` package that provides only",
        "mmpose.apis.init_model, mmpose.apis.inference_topdown and mmpose.structures.merge_data_samples for",
        "MuseTalk's RTMPose-l wholebody DWPose model, in plain PyTorch (no mmcv, mmengine, mmdet, xtcocotools",
        "or chumpy). It is NOT OpenMMLab's mmpose and must never be installed beside it.",
        "Recognise it by this distribution name or by the module mmpose/_envdoctor_mmpose_free.py.",
        "",
    ]
    return "\n".join(lines)


def build_wheel(outdir: Path) -> Path:
    """Write the wheel into `outdir` (created if needed) and return its path."""
    return build_hashed(outdir).path


def build_hashed(outdir: Path) -> BuiltWheel:
    """Write the wheel and return its path with its sha256 (for a hash-pinned requirement)."""
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    dist_info = f"{DIST_NAME.replace('-', '_')}-{VERSION}.dist-info"
    entries = _payload_files()
    entries += [
        (f"{dist_info}/METADATA", metadata_text().encode()),
        (f"{dist_info}/WHEEL", _WHEEL_TEXT.format(tag=_TAG).encode()),
        (f"{dist_info}/top_level.txt", b"mmpose\n"),
    ]
    record = [f"{name},{_digest(data)},{len(data)}" for name, data in entries]
    record.append(f"{dist_info}/RECORD,,")
    entries.append((f"{dist_info}/RECORD", ("\n".join(record) + "\n").encode()))
    path = outdir / f"{DIST_NAME.replace('-', '_')}-{VERSION}-{_TAG}.whl"
    tmp = path.with_suffix(".tmp")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in entries:
            info = zipfile.ZipInfo(name, date_time=_EPOCH)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, data)
    tmp.replace(path)
    return BuiltWheel(path, hashlib.sha256(path.read_bytes()).hexdigest())
