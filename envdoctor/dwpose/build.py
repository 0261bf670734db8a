"""Build the `envdoctor-mmpose-free` wheel from the port's source folder (probes/mmpose_free/mmpose).

A pure-Python wheel is a zip with a dist-info folder; writing it directly needs no build backend,
no network and no isolation, and gives byte-identical wheels for identical sources (fixed
timestamps, sorted entries), so a lockfile hash of the wheel stays valid.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from envdoctor.digest import sha256_file
from envdoctor.dwpose.meta import DIST_NAME, PAYLOAD, REQUIRES, SUMMARY, VERSION
from envdoctor.wheelfile import wheel_text, write_wheel

_TAG = "py3-none-any"


@dataclass(frozen=True)
class BuiltWheel:
    path: Path
    sha256: str


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
        (f"{dist_info}/WHEEL", wheel_text(tag=_TAG).encode()),
        (f"{dist_info}/top_level.txt", b"mmpose\n"),
    ]
    path = write_wheel(outdir / f"{DIST_NAME.replace('-', '_')}-{VERSION}-{_TAG}.whl", dist_info, entries)
    return BuiltWheel(path, sha256_file(path))
