"""What to run for model files that fail: the exact `envdoctor models fetch` command, said by `fix` and `smoke`
as `check` says it in its fix lines."""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from pathlib import Path

from envdoctor.models.manifest import torch_home
from envdoctor.models.verify import FileVerdict, Missing, Wrong


def fetch_command(models: Path, verdicts: Sequence[FileVerdict] = (), *, torch_dir: Path | None = None) -> str:
    """`envdoctor models fetch --models DIR`, with `--repair` when a file is there but wrong (fetch leaves such
    a file alone without it) and `--torch-home` when torch hub's folder is not the one fetch finds by default."""
    argv = ["envdoctor", "models", "fetch", "--models", str(models.absolute())]
    if torch_dir is not None and torch_dir.absolute() != torch_home().absolute():
        argv += ["--torch-home", str(torch_dir.absolute())]
    if any(not v.ok and not isinstance(v.outcome, Missing) for v in verdicts):
        argv.append("--repair")
    return shlex.join(argv)


def problem(v: FileVerdict) -> str:
    """One clause for a file that fails: its title and what is wrong with it."""
    o = v.outcome
    if isinstance(o, Missing):
        return f"{v.file.title} missing"
    return f"{v.file.title} wrong ({o.detail})" if isinstance(o, Wrong) else f"{v.file.title} wrong"
