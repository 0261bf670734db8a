"""Which weight files MuseTalk's v1.5 inference needs: the manifest's (envdoctor/data/models.toml), the same
list `check --models` holds a folder to; and the check `smoke --app` makes of them before it runs MuseTalk on
real weights: every file by sha256 (remembered, so a repeat costs a stat per file), as `models verify` does."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from envdoctor import datafiles
from envdoctor.models import manifest as manifest_mod
from envdoctor.models.advice import fetch_command, problem
from envdoctor.models.manifest import MODELS, TORCH_HOME, Roots, builtin
from envdoctor.models.verify import FileVerdict, verify


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


@dataclass(frozen=True)
class WeightsCheck:
    """The v1.5 inference files under `models` and torch hub's folder, each judged by sha256."""

    models: Path
    torch_home: Path
    verdicts: tuple[FileVerdict, ...]

    @property
    def ok(self) -> bool:
        return all(v.ok for v in self.verdicts)

    @property
    def failing(self) -> tuple[FileVerdict, ...]:
        return tuple(v for v in self.verdicts if not v.ok)

    @property
    def command(self) -> str:
        return fetch_command(self.models, self.verdicts, torch_dir=self.torch_home)

    def sentence(self) -> str:
        if self.ok:
            return f"weights: {len(self.verdicts)} files of v1.5 inference in place, each checked by sha256."
        bad = self.failing
        return (
            f"MuseTalk's weights are not in place ({len(bad)} of {len(self.verdicts)} files): "
            + "; ".join(problem(v) for v in bad)
            + f". Fetch them, each verified by sha256: {self.command}  (or run with --synthetic-weights)."
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "models": str(self.models),
            "torch_home": str(self.torch_home),
            "command": None if self.ok else self.command,
            "files": [
                {
                    "path": v.file.path,
                    "root": v.file.root,
                    "location": str(v.path),
                    "ok": v.ok,
                    "state": type(v.outcome).__name__.lower(),
                    **({} if v.ok else {"problem": problem(v)}),
                }
                for v in self.verdicts
            ],
        }


def check_weights(models: Path, torch_home: Path | None = None) -> WeightsCheck:
    """The files MuseTalk's v1.5 inference loads (S3FD in torch hub's cache included), by the active manifest."""
    manifest = manifest_mod.active()
    roots = Roots(models, torch_home or manifest_mod.torch_home())
    files = manifest.for_purpose("inference", "v15")
    return WeightsCheck(roots.models, roots.torch_home, verify(manifest, files, roots))
