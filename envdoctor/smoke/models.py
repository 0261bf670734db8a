"""Which weight files MuseTalk's inference needs: the inference-scope files of envdoctor/data/models.toml,
the same list `check --models` holds a folder to."""

from __future__ import annotations

from pathlib import Path, PurePosixPath

from envdoctor import datafiles


def required_files() -> list[str]:
    models = datafiles.load("models.toml")["model"]
    return [m["path"] for m in models if m.get("scope", "inference") == "inference"]


def missing_files(models: Path) -> list[str]:
    """Relative paths under `models` that are absent (empty files count as absent)."""
    return [rel for rel in required_files() if not (models / rel).is_file() or (models / rel).stat().st_size == 0]


def s3fd_name() -> str:
    """The S3FD file's name in the torch hub cache's checkpoints folder."""
    return PurePosixPath(datafiles.load("models.toml")["s3fd"]["path"]).name


def synthetic_bytes_needed() -> int:
    """Free bytes `smoke --synthetic-weights` needs where it writes its weights."""
    synthetic = datafiles.load("models.toml")["synthetic"]
    return int(synthetic["bytes"]) + int(synthetic["margin"])
