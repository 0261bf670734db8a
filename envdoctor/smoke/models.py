"""Which weight files MuseTalk's v1.5 inference needs: the manifest's (envdoctor/data/models.toml), the same
list `check --models` holds a folder to."""

from __future__ import annotations

from pathlib import Path

from envdoctor import datafiles
from envdoctor.models.manifest import MODELS, TORCH_HOME, builtin


def required_files() -> list[str]:
    return [f.path for f in builtin().for_purpose("inference", "v15") if f.root == MODELS]


def missing_files(models: Path) -> list[str]:
    """Relative paths under `models` that are absent (empty files count as absent)."""
    return [rel for rel in required_files() if not (models / rel).is_file() or (models / rel).stat().st_size == 0]


def s3fd_name() -> str:
    """The S3FD file's name in the torch hub cache's checkpoints folder."""
    return next(f.name for f in builtin().files if f.root == TORCH_HOME)


def synthetic_bytes_needed() -> int:
    """Free bytes `smoke --synthetic-weights` needs where it writes its weights."""
    synthetic = datafiles.load("models.toml")["synthetic"]
    return int(synthetic["bytes"]) + int(synthetic["margin"])
