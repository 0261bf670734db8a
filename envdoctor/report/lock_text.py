"""`envdoctor-maint lock` for people: what each lockfile check found, what was written, left out or refused."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from envdoctor.lock import CellDrift, CellOutcome, Locked, LockfileCheck, LockRefused, LockTarget


def checks(results: Sequence[LockfileCheck]) -> str:
    """One line per lockfile (ok / FAIL), then how many match their inputs."""
    lines = [("ok    " if r.ok else "FAIL  ") + r.message for r in results]
    bad = sum(not r.ok for r in results)
    lines.append(f"{len(results) - bad}/{len(results)} lockfiles and left-out cells match their inputs.")
    return "\n".join(lines)


def failed(t: LockTarget, exc: Exception) -> str:
    return f"REFUSED {exc}" if isinstance(exc, LockRefused) else f"FAILED {t.name}: {exc}"


def wrote(result: Locked) -> str:
    return f"wrote {result.requirements_txt} and {result.pylock.name} ({result.packages} packages)"


def progress(done: int, total: int, seconds: float, outcome: CellOutcome) -> str:
    """One cell of the whole matrix finished: how far along, and what came of it."""
    what = f"{outcome.packages} packages" if isinstance(outcome, Locked) else f"left out: {outcome.sentence}"
    return f"[{done}/{total} {seconds:4.0f}s] {outcome.target.name}: {what}"


def made_all(results: Sequence[CellOutcome], seconds: float) -> str:
    made = sum(isinstance(o, Locked) for o in results)
    return (
        f"{made}/{len(results)} cells locked, {len(results) - made} left out (lockfiles/matrix.json says why), "
        f"in {seconds:.0f} s."
    )


def table_written(path: Path, changed: bool) -> str:
    return f"{path}: the lockfile table was {'updated' if changed else 'already current'}."


def drift_line(d: CellDrift) -> str:
    """One cell of `lock --drift`: the same pins, or each pin the registry now answers differently."""
    if d.error:
        return f"ERROR  {d.target.name}: {d.error}"
    if d.same:
        return f"same   {d.target.name}"
    moves = ", ".join(f"{name} {old or '(none)'} -> {new or '(none)'}" for name, old, new in d.changed)
    return f"DRIFT  {d.target.name}: {moves}"


def drift_summary(results: Sequence[CellDrift]) -> str:
    drifted = sum(not d.same for d in results)
    if not drifted:
        return f"{len(results)}/{len(results)} cells resolve to their committed pins today."
    return (
        f"{drifted}/{len(results)} cells resolve differently today. The committed lockfiles still install "
        "exactly what they pin (`envdoctor-maint lock --check` is the gate); to take the new pins, refresh the "
        "matrix as docs/fix.md says (move locked_on and exclude_newer in envdoctor/data/lock.toml, then "
        "`make lockfiles`)."
    )
