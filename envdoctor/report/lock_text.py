"""`envdoctor lock` for people: what each lockfile check found, what was written, left out or refused."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from envdoctor.lock import LockfileCheck, LockRefused, LockResult, LockTarget


def checks(results: Sequence[LockfileCheck]) -> str:
    """One line per lockfile (ok / FAIL), then how many match their inputs."""
    lines = [("ok    " if r.ok else "FAIL  ") + r.message for r in results]
    bad = sum(not r.ok for r in results)
    lines.append(f"{len(results) - bad}/{len(results)} lockfiles and left-out cells match their inputs.")
    return "\n".join(lines)


def failed(t: LockTarget, exc: Exception) -> str:
    return f"REFUSED {exc}" if isinstance(exc, LockRefused) else f"FAILED {t.name}: {exc}"


def wrote(result: LockResult) -> str:
    return f"wrote {result.requirements_txt} and {result.pylock.name} ({result.packages} packages)"


def progress(done: int, total: int, seconds: float, t: LockTarget, outcome: LockResult | str) -> str:
    """One cell of the whole matrix finished: how far along, and what came of it."""
    what = f"{outcome.packages} packages" if isinstance(outcome, LockResult) else f"left out: {outcome}"
    return f"[{done}/{total} {seconds:4.0f}s] {t.name}: {what}"


def made_all(results: Sequence[tuple[LockTarget, LockResult | str]], seconds: float) -> str:
    made = sum(isinstance(o, LockResult) for _, o in results)
    return (
        f"{made}/{len(results)} cells locked, {len(results) - made} left out (lockfiles/matrix.json says why), "
        f"in {seconds:.0f} s."
    )


def table_written(path: Path, changed: bool) -> str:
    return f"{path}: the lockfile table was {'updated' if changed else 'already current'}."
