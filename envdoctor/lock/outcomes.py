"""What became of a cell: locked, or left out (refused by the wheel gate, or unresolvable), and
lockfiles/matrix.json, which records it for every committed cell.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from envdoctor import lockgate
from envdoctor.errors import EnvdoctorError
from envdoctor.lock.cells import LockTarget, committed_targets, paths
from envdoctor.lock.inputs import inputs_for
from envdoctor.resources import lockfiles_dir
from envdoctor.uv import UvError

MATRIX = "matrix.json"
"""lockfiles/matrix.json: what `envdoctor-maint lock` made of every committed cell, refusals included."""


@dataclass(frozen=True)
class Locked:
    """A cell whose resolution passed the wheel gate: both files written."""

    target: LockTarget
    requirements_txt: Path
    pylock: Path
    packages: int
    builds: tuple[str, ...] = ()
    """Pins the install step builds from source (named in the header)."""

    status: ClassVar[str] = "locked"


@dataclass(frozen=True)
class LeftOut:
    """A cell with no lockfile, and why (one line for matrix.json and the README table)."""

    target: LockTarget
    reason: str
    status: ClassVar[str] = "left out"

    @property
    def sentence(self) -> str:
        return self.reason


@dataclass(frozen=True)
class Refused(LeftOut):
    """The wheel gate refused the resolution (a pin with no wheel for the target and no named build)."""

    status: ClassVar[str] = "refused"

    @property
    def sentence(self) -> str:
        return f"wheel gate: {self.reason}"


@dataclass(frozen=True)
class Unresolvable(LeftOut):
    """uv found no resolution for the inputs."""

    status: ClassVar[str] = "unresolvable"


CellOutcome = Locked | LeftOut


class LockRefused(EnvdoctorError, ValueError):
    """The wheel gate refused the resolution: a pin has no wheel for the target and no named build."""

    code = "lock-refused"
    exit_code = 1

    def __init__(self, target: LockTarget, gate: lockgate.GateResult) -> None:
        super().__init__(f"{target.name}: {gate.message()}")
        self.target = target
        self.gate = gate


def read_matrix(directory: Path | None = None) -> dict[str, dict[str, object]]:
    path = (directory or lockfiles_dir()) / MATRIX
    if not path.is_file():
        return {}
    return json.loads(path.read_text())["cells"]


def _entry(outcome: CellOutcome) -> dict[str, object]:
    if isinstance(outcome, Locked):
        return {"status": outcome.status, "builds": list(outcome.builds), "packages": outcome.packages}
    digest = inputs_for(outcome.target).digest()
    return {"status": outcome.status, "reason": outcome.reason, "inputs_sha256": digest}


def record(directory: Path, outcomes: Sequence[CellOutcome]) -> None:
    """Write what became of each committed cell into matrix.json; a cell left out loses its old files."""
    cells = read_matrix(directory)
    for outcome in outcomes:
        cells[outcome.target.name] = _entry(outcome)
        if isinstance(outcome, LeftOut):
            for p in paths(outcome.target, directory):
                p.unlink(missing_ok=True)
    order = {t.name: i for i, t in enumerate(committed_targets())}
    cells = {k: cells[k] for k in sorted(cells, key=lambda k: (order.get(k, len(order)), k)) if k in order}
    text = json.dumps({"schema": 1, "cells": cells}, indent=1, sort_keys=False) + "\n"
    (directory / MATRIX).write_text(text)


def left_out_by(t: LockTarget, exc: UvError | LockRefused) -> LeftOut:
    """The cell left out by a refusal of the wheel gate, or by uv's failure (its last line)."""
    if isinstance(exc, LockRefused):
        return Refused(t, exc.gate.message())
    last = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    return Unresolvable(t, "uv cannot resolve it: " + (last[-1] if last else str(exc))[:300])
