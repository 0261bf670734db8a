"""`envdoctor lock` for a live environment, as a library call: check, inventory, hashes, files."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from envdoctor import checkrun as check_mod
from envdoctor.deploy import envlock, inventory
from envdoctor.deploy.compare import Difference, compare
from envdoctor.deploy.hashes import Sources, default_sources
from envdoctor.errors import EnvdoctorError
from envdoctor.models import manifest as models_manifest
from envdoctor.target import Target


class NotPassing(EnvdoctorError):
    """The environment fails `check`: locking it would pin a broken environment."""

    code = "lock-check-fails"
    exit_code = 1


@dataclass(frozen=True)
class Written:
    lock: envlock.EnvLock
    pylock: Path
    requirements: Path
    check_passed: bool | None
    """None when the check was not run (--allow-failing)."""


def accelerator(dists: tuple[inventory.Installed, ...]) -> str:
    """torch's local version label (+cpu, +cu130) names the accelerator; without one, torch's default build."""
    torch = next((d for d in dists if d.name == "torch"), None)
    if torch is None:
        return "none (no torch)"
    _, plus, label = torch.version.partition("+")
    return label if plus else "default (PyPI's torch build)"


def _models() -> list[dict[str, Any]]:
    return [
        {"path": f.title, "sha256": f.sha256 or "", "sources": [dataclasses.asdict(s) for s in f.sources]}
        for f in models_manifest.active().files
    ]


def make(
    target: Target,
    out: Path,
    *,
    sources: Sources | None = None,
    strategy: str | None = None,
    allow_failing: bool = False,
    allow_unhashed: bool = False,
) -> Written:
    """Lock `target` into `out`; refuses (NotPassing, Unhashed) before writing anything."""
    passed: bool | None = None
    if not allow_failing:
        report = check_mod.run(target)
        if report.failures:
            names = ", ".join(r.id for r in report.failures)
            raise NotPassing(
                f"{target.python} fails check ({names}): fix it first, or pass --allow-failing to lock it as it is."
            )
        passed = True
    dists = inventory.read(target)
    lock = envlock.build(
        dists,
        sources or default_sources(),
        python=target.version,
        accelerator=accelerator(dists),
        strategy=strategy,
        models=_models(),
        allow_unhashed=allow_unhashed,
    )
    pylock, txt = envlock.write(lock, out)
    return Written(lock, pylock, txt, passed)


def check(folder: Path, target: Target) -> tuple[Difference, ...]:
    """What differs between `target` and the lock in `folder` (no network, nothing changed)."""
    _head, entries = envlock.read(folder)
    return compare(entries, inventory.read(target))
