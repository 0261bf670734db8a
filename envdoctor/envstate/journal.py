"""The journal of a fix in progress, kept in the environment itself (`<prefix>/.envdoctor/journal.json`).

It is written before the first change (the snapshot, the kept files, the plan) and updated as each step
begins, always by replacing the whole file (write, fsync, rename), so a power cut leaves either the old
or the new journal, never half of one. A finished fix (applied, or rolled back exactly) removes it. A
journal whose lock nobody holds is an unfinished fix: its process was killed. Every command that looks
at the environment says so, and `fix --rollback` (or `--resume`) finishes it.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from envdoctor.envstate.guard import is_held, state_dir

SCHEMA = 1
NAME = "journal.json"


def path_of(prefix: str | Path) -> Path:
    return state_dir(prefix) / NAME


@dataclass(frozen=True)
class Unfinished:
    """A fix that began in this environment and did not end."""

    started: str
    pid: int
    chosen: str
    state: str
    """applying | rolling-back"""
    step: int
    steps: tuple[str, ...]
    running: str | None
    """Who holds the lock now, when a fix is still running; None: its process is gone."""

    def sentence(self) -> str:
        where = (
            f"step {self.step} of {len(self.steps)} ({self.steps[self.step - 1]})"
            if 0 < self.step <= len(self.steps)
            else "before its first step"
        )
        what = "while rolling back" if self.state == "rolling-back" else f"at {where}"
        if self.running:
            return f"a fix ({self.chosen}) is changing this environment now: {self.running}"
        return (
            f"an unfinished fix ({self.chosen}, started {self.started}, pid {self.pid}) stopped {what}; "
            "run `envdoctor fix --rollback` to put the environment back exactly as it was, "
            "or `envdoctor fix --resume` to roll back and fix again"
        )


class Journal:
    """Writes the journal of one fix; `read()` and `unfinished()` read it back."""

    def __init__(self, prefix: str | Path, data: dict[str, Any]) -> None:
        self.path = path_of(prefix)
        self.data = data

    @classmethod
    def begin(cls, prefix: str | Path, **data: Any) -> Journal:
        journal = cls(prefix, {
            "schema": SCHEMA, "started": time.strftime("%Y-%m-%d %H:%M:%S"), "pid": os.getpid(),
            "state": "applying", "step": 0, **data,
        })  # fmt: skip
        journal._write()
        return journal

    def update(self, **changes: Any) -> None:
        self.data.update(changes)
        self._write()

    def _write(self) -> None:
        self.path.parent.mkdir(exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        with open(tmp, "w") as fh:
            json.dump(self.data, fh, indent=1, default=str)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.path)

    def end(self) -> None:
        self.path.unlink(missing_ok=True)


def read(prefix: str | Path) -> Journal | None:
    path = path_of(prefix)
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        data = {"state": "unreadable", "chosen": "?", "steps": []}
    return Journal(prefix, data)


def unfinished(prefix: str | Path) -> Unfinished | None:
    """The fix that began here and did not end, if any (also one that is running right now)."""
    journal = read(prefix)
    if journal is None:
        return None
    d = journal.data
    return Unfinished(
        started=str(d.get("started", "?")),
        pid=int(d.get("pid", 0) or 0),
        chosen=str(d.get("chosen", "?")),
        state=str(d.get("state", "?")),
        step=int(d.get("step", 0) or 0),
        steps=tuple(str(s) for s in d.get("steps", [])),
        running=is_held(prefix),
    )
