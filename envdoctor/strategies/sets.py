"""MuseTalk's requirement sets and the breaker constraints, read from envdoctor/data/."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from packaging.specifiers import SpecifierSet
from packaging.version import Version

from envdoctor.datafiles import load
from envdoctor.strategies.base import req_name


@dataclass(frozen=True)
class RequirementSet:
    name: str
    description: str
    torch: SpecifierSet
    python: SpecifierSet
    requirements: tuple[str, ...]
    openmmlab: tuple[str, ...]
    mmcv: str
    dropped: tuple[tuple[str, str], ...]
    new_environments: bool = False

    def fits(self, torch: Version | None, python: str) -> bool:
        torch_ok = torch is None or self.torch.contains(Version(torch.base_version), prereleases=True)
        return torch_ok and self.python.contains(python, prereleases=True)


@dataclass(frozen=True)
class Constraint:
    id: str
    breaker: int
    requirement: str
    why: str
    build: bool = False
    torch: SpecifierSet | None = None
    with_: str | None = None
    after: str | None = None


@cache
def requirement_sets() -> tuple[RequirementSet, ...]:
    return tuple(
        RequirementSet(
            name=row["name"],
            description=row["description"],
            torch=SpecifierSet(row["torch"]),
            python=SpecifierSet(row["python"]),
            requirements=tuple(row["requirements"]),
            openmmlab=tuple(row.get("openmmlab", ())),
            mmcv=row["mmcv"],
            dropped=tuple(sorted((row.get("dropped") or {}).items())),
            new_environments=bool(row.get("new_environments")),
        )
        for row in load("requirements.toml")["set"]
    )


def get_set(name: str) -> RequirementSet:
    for s in requirement_sets():
        if s.name == name:
            return s
    raise KeyError(name)


def pick_set(torch: Version | None, python: str) -> RequirementSet | None:
    """The first set whose torch series and Python fit; None when none does.

    Without torch, the set for new environments: its torch is what gets installed.
    """
    sets = requirement_sets()
    if torch is None:
        sets = tuple(s for s in sets if s.new_environments)
    for s in sets:
        if s.fits(torch, python):
            return s
    return None


@cache
def constraints() -> tuple[Constraint, ...]:
    out = []
    for row in load("constraints.toml")["constraint"]:
        when = row.get("when") or {}
        out.append(
            Constraint(
                id=row["id"],
                breaker=int(row["breaker"]),
                requirement=row["requirement"],
                why=row["why"],
                build=bool(row.get("build")),
                torch=SpecifierSet(when["torch"]) if "torch" in when else None,
                with_=when.get("with"),
                after=when.get("after"),
            )
        )
    return tuple(out)


@cache
def excludes() -> tuple[tuple[str, str], ...]:
    return tuple(sorted((load("constraints.toml").get("exclude") or {}).items()))


def active_constraints(torch: Version | None, installs: tuple[str, ...]) -> tuple[Constraint, ...]:
    """The constraints that hold for this torch and this list of requirements to install.

    `after` chains are followed until nothing changes, so the order of rows does not matter.
    """
    names = {req_name(r) for r in installs}
    active: dict[str, Constraint] = {}
    changed = True
    while changed:
        changed = False
        for c in constraints():
            if c.id in active:
                continue
            # Without a torch (an empty venv, a lockfile for any torch) the torch rows apply: the safe side.
            if c.torch is not None and torch is not None and not c.torch.contains(Version(torch.base_version)):
                continue
            if c.with_ is not None and c.with_ not in names:
                continue
            if c.after is not None and c.after not in active:
                continue
            active[c.id] = c
            changed = True
    return tuple(c for c in constraints() if c.id in active)


@dataclass(frozen=True)
class ExtraBuild:
    package: str
    python: SpecifierSet
    requires: tuple[str, ...]
    breaker: int
    why: str


@cache
def extra_builds_all() -> tuple[ExtraBuild, ...]:
    return tuple(
        ExtraBuild(r["package"], SpecifierSet(r["python"]), tuple(r["requires"]), int(r["breaker"]), r["why"])
        for r in load("constraints.toml").get("extra_build", [])
    )


def extra_builds(python: str) -> tuple[ExtraBuild, ...]:
    """The source builds that need undeclared build dependencies on this Python ("3.12" or "3.12.1")."""
    return tuple(e for e in extra_builds_all() if e.python.contains(python, prereleases=True))


def extra_build_pairs(python: str) -> tuple[tuple[str, tuple[str, ...]], ...]:
    return tuple((e.package, e.requires) for e in extra_builds(python))
