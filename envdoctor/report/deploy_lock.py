"""Rendering of the environment lock and its comparison: text lines and the envdoctor.lock-env JSON (v1)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from envdoctor.deploy.compare import Difference
from envdoctor.deploy.lock import Written
from envdoctor.document import head


def wrote_text(w: Written, source_note: str) -> str:
    lock = w.lock
    built = sum(1 for p in lock.packages if p.wheel is not None and p.wheel.built_by_envdoctor)
    lines = [
        f"target: {source_note}",
        f"Locked {len(lock.packages)} distributions (Python {lock.python}, {lock.platform}, accelerator "
        f"{lock.accelerator}) into {w.pylock} and {w.requirements}.",
    ]
    torch = [p for p in lock.packages if p.dist.name in ("torch", "torchvision")]
    for p in torch:
        src = p.wheel.index if p.wheel else "unknown source"
        lines.append(f"  {p.dist.name} {p.dist.version} from {src}")
    if built:
        lines.append(f"  {built} wheel(s) envdoctor built, copied into {w.pylock.parent / 'wheels'}")
    if lock.unhashed:
        lines.append(f"  locked by version only (no known wheel hash): {', '.join(lock.unhashed)}")
    lines.append("check passed before locking." if w.check_passed else "check was not run (--allow-failing).")
    return "\n".join(lines)


def wrote_json(w: Written) -> dict[str, Any]:
    lock = w.lock
    return {
        **head("envdoctor.lock-env"),
        "pylock": str(w.pylock),
        "requirements": str(w.requirements),
        "python": lock.python,
        "platform": lock.platform,
        "accelerator": lock.accelerator,
        "strategy": lock.strategy,
        "check_passed": w.check_passed,
        "packages": [
            {
                "name": p.dist.name,
                "version": p.dist.version,
                "wheel": p.wheel.filename if p.wheel else None,
                "sha256": p.wheel.sha256 if p.wheel else None,
                "index": p.wheel.index if p.wheel else None,
                "built_by_envdoctor": bool(p.wheel and p.wheel.built_by_envdoctor),
            }
            for p in lock.packages
        ],
        "unhashed": list(lock.unhashed),
    }


def check_text(folder: Path, diffs: Sequence[Difference]) -> str:
    if not diffs:
        return f"The environment matches the lock in {folder}."
    return "\n".join(
        [f"{len(diffs)} distribution(s) differ from the lock in {folder}:", *(f"  {d.sentence()}" for d in diffs)]
    )


def check_json(folder: Path, diffs: Sequence[Difference]) -> dict[str, Any]:
    return {
        **head("envdoctor.lock-env-check"),
        "lock": str(folder),
        "matches": not diffs,
        "differences": [{"kind": type(d).__name__, "name": d.name, "sentence": d.sentence()} for d in diffs],
    }
