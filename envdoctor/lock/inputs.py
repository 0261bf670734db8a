"""Everything that decides a lockfile's content, read from envdoctor's data files, and its digest."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field

from envdoctor import lockgate, sources
from envdoctor.lock.cells import LockTarget, settings
from envdoctor.strategies import by_name
from envdoctor.strategies.common import HELD
from envdoctor.strategies.sets import active_constraints, excludes, extra_build_pairs, get_set


@dataclass(frozen=True)
class LockInputs:
    requirements: tuple[str, ...]
    constraints: tuple[str, ...]
    build_constraints: tuple[str, ...]
    excludes: tuple[str, ...]
    find_links: tuple[str, ...]
    python_version: str
    python_platform: str
    exclude_newer: str
    torch_index: str
    held: tuple[str, ...]
    notes: tuple[str, ...] = field(default=())
    extra_build: tuple[tuple[str, tuple[str, ...]], ...] = field(default=())

    def digest(self) -> str:
        return digest_of(asdict(self))

    def to_dict(self) -> dict[str, object]:
        return asdict(self)

    @property
    def source_builds(self) -> tuple[str, ...]:
        """Packages the install step may build from source: those whose build the inputs spell out."""
        return tuple(name for name, _ in self.extra_build)


def inputs_for(t: LockTarget) -> LockInputs:
    """Everything that decides the lockfile's content, read from envdoctor's data files."""
    data = settings()
    rset = get_set(t.set_name).for_target(t.python, t.os)
    try:
        strategy = by_name(t.strategy)
    except KeyError:
        raise ValueError(f"unknown strategy {t.strategy}") from None
    cell = strategy.lock_packages(rset, t.python, t.os, t.accelerator, t.torch_series)
    packages, find_links, notes = cell.requirements, cell.find_links, cell.notes
    if t.platform not in lockgate.platforms():
        raise ValueError(f"unknown platform {t.platform} (one of {', '.join(lockgate.platforms())})")
    # torch is unknown when locking: the torch rows are judged against the oldest torch this Python can have.
    cons = active_constraints(None, packages, t.python)
    return LockInputs(
        requirements=tuple(packages),
        constraints=tuple(dict.fromkeys(c.requirement for c in cons if not c.build)),
        build_constraints=tuple(dict.fromkeys(c.requirement for c in cons if c.build)),
        excludes=tuple(n for n, _ in excludes()) + HELD,
        find_links=find_links,
        python_version=t.python,
        python_platform=lockgate.platforms()[t.platform].uv,
        exclude_newer=str(data["exclude_newer"]),
        torch_index=sources.torch_index(t.accelerator),
        held=HELD,
        notes=tuple(notes),
        extra_build=extra_build_pairs(t.python),
    )


def digest_of(inputs: dict[str, object]) -> str:
    return hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()


def normalised(value: object) -> str:
    return json.dumps(value, sort_keys=True)
