"""Which weight files MuseTalk's inference needs (from envdoctor/data/smoke-models.toml)."""

from __future__ import annotations

from pathlib import Path

from envdoctor import datafiles


def required_files() -> list[str]:
    return [f["path"] for f in datafiles.load("smoke-models.toml")["file"]]


def missing_files(models: Path) -> list[str]:
    """Relative paths under `models` that are absent (empty files count as absent)."""
    return [rel for rel in required_files() if not (models / rel).is_file() or (models / rel).stat().st_size == 0]


def s3fd_name() -> str:
    return str(datafiles.load("smoke-models.toml")["s3fd"]["name"])


def synthetic_bytes_needed() -> int:
    """Free bytes `smoke --synthetic-weights` needs where it writes its weights."""
    synthetic = datafiles.load("smoke-models.toml")["synthetic"]
    return int(synthetic["bytes"]) + int(synthetic["margin"])
