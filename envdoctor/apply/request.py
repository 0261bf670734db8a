"""What the user asked `fix` to do, parsed once: the plan's options, where packages come from, and how
to behave around other runs (wait for the lock or refuse)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from envdoctor.sources import Sources
from envdoctor.strategies import Options


@dataclass(frozen=True)
class Request:
    """One `fix` run as asked: everything the plan, the transaction and the output need."""

    options: Options = field(default_factory=Options)
    sources: Sources = field(default_factory=Sources)
    wait: bool = True
    """Another envdoctor holds the environment's lock: wait for it (True) or refuse (--no-wait)."""
    models: Path | None = None
    """MuseTalk's models/ folder (--models DIR): the check after the changes holds its files to the manifest,
    and what fails there is left for the user with the `envdoctor models fetch` command."""
