"""The committed pins against today's registry: a report, never a gate."""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from envdoctor.lock.cells import LockTarget, committed_targets, paths
from envdoctor.lock.files import read_requirements
from envdoctor.lock.make import make
from envdoctor.lock.outcomes import LockRefused, left_out_by
from envdoctor.resources import lockfiles_dir
from envdoctor.uv import Uv, UvError, find_uv


@dataclass(frozen=True)
class CellDrift:
    """One committed cell resolved afresh against today's registry, beside its committed pins.

    `changed` holds (name, committed version or None, fresh version or None) for each pin that differs;
    `error` says why the fresh resolve gave no pins (uv's last line, or the wheel gate's refusal)."""

    target: LockTarget
    changed: tuple[tuple[str, str | None, str | None], ...] = ()
    error: str | None = None

    @property
    def same(self) -> bool:
        return self.error is None and not self.changed


def _versions(path: Path) -> dict[str, str]:
    return {name: pin.version for name, pin in read_requirements(path.read_text()).items()}


def drift(
    targets: Sequence[LockTarget] | None = None,
    directory: Path | None = None,
    *,
    uv: Uv | None = None,
    jobs: int = 1,
    progress: Callable[[CellDrift], None] | None = None,
) -> tuple[CellDrift, ...]:
    """Resolve each committed cell again (the network is needed) and compare its pins with the committed
    ones. Nothing under `directory` changes. A drift means the registry now answers the same inputs
    differently (a file that reached it after the lock was made, a yanked release), not that a commit
    broke anything: `envdoctor-maint lock --check` is the offline gate, this is the report."""
    directory = directory or lockfiles_dir()
    chosen = [t for t in (targets or committed_targets()) if paths(t, directory)[0].is_file()]
    uv = uv or find_uv()

    def one(t: LockTarget) -> CellDrift:
        with tempfile.TemporaryDirectory(prefix="envdoctor-drift-") as tmp:
            try:
                fresh = _versions(make(t, Path(tmp), uv=uv).requirements_txt)
            except (UvError, LockRefused) as exc:
                out = CellDrift(t, error=left_out_by(t, exc).sentence)
            else:
                committed = _versions(paths(t, directory)[0])
                changed = tuple(
                    (name, committed.get(name), fresh.get(name))
                    for name in sorted(committed.keys() | fresh.keys())
                    if committed.get(name) != fresh.get(name)
                )
                out = CellDrift(t, changed)
        if progress:
            progress(out)
        return out

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        return tuple(pool.map(one, chosen))
