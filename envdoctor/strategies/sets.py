"""MuseTalk's requirement sets and the breaker constraints, read from envdoctor/data/."""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cache

from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import Version

from envdoctor.datafiles import load


def req_name(requirement: str) -> str:
    return canonicalize_name(Requirement(requirement).name)


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

    def for_target(self, python: str, os: str | None = None) -> RequirementSet:
        """The set as this Python and OS get it: requirements whose marker fails are dropped, the
        marker of the others is evaluated away (uv and the lockfile header see plain pins)."""
        return replace(
            self,
            requirements=tuple(r for r in (_narrow(req, python, os) for req in self.requirements) if r),
        )


# uv's --python-platform / envdoctor's OS names, as PEP 508 markers see them.
_MARKER_OS = {
    "linux": {"sys_platform": "linux", "platform_system": "Linux", "os_name": "posix"},
    "macos": {"sys_platform": "darwin", "platform_system": "Darwin", "os_name": "posix"},
    "windows": {"sys_platform": "win32", "platform_system": "Windows", "os_name": "nt"},
}


def marker_environment(python: str, os: str | None = None) -> dict[str, str]:
    """The PEP 508 environment of a target known by its Python ("3.13" or "3.13.1") and OS."""
    parts = python.split(".")
    env = {"python_version": ".".join(parts[:2]), "python_full_version": python if len(parts) > 2 else python + ".0"}
    env.update(_MARKER_OS.get(os or "", {}))
    return env


def _narrow(requirement: str, python: str, os: str | None) -> str | None:
    req = Requirement(requirement)
    if req.marker is None:
        return requirement
    if not req.marker.evaluate(marker_environment(python, os)):
        return None
    req.marker = None
    return str(req)


@dataclass(frozen=True)
class Constraint:
    id: str
    breaker: int | None
    """The row of the breaker catalog this constraint prevents; None for a fact of MuseTalk's code."""
    requirement: str
    why: str
    build: bool = False
    torch: SpecifierSet | None = None
    python: SpecifierSet | None = None
    with_: str | None = None
    after: str | None = None
    unless: tuple[str, ...] = ()


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


def pick_set(torch: Version | None, python: str, os: str | None = None) -> RequirementSet | None:
    """The first set whose torch series and Python fit, narrowed to this Python and OS; None when none does.

    Without torch, the set for new environments: its torch is what gets installed.
    """
    sets = requirement_sets()
    if torch is None:
        sets = tuple(s for s in sets if s.new_environments)
    for s in sets:
        if s.fits(torch, python):
            return s.for_target(python, os)
    return None


def coverage() -> str:
    """What the sets cover, for a target none fits: "torch >=2.0,<2.1 on Python >=3.10,<3.12; ..."."""
    return "; ".join(f"torch {s.torch} on Python {s.python} ({s.name})" for s in requirement_sets())


@cache
def torch_floors() -> dict[str, Version]:
    return {series: Version(v) for series, v in (load("requirements.toml").get("torch_floor") or {}).items()}


def oldest_torch(python: str) -> Version | None:
    """The oldest torch with wheels for this Python ("3.13" or "3.13.1"); None when the data has no row."""
    return torch_floors().get(".".join(python.split(".")[:2]))


@cache
def constraints() -> tuple[Constraint, ...]:
    out = []
    for row in load("constraints.toml")["constraint"]:
        when = row.get("when") or {}
        out.append(
            Constraint(
                id=row["id"],
                breaker=int(row["breaker"]) if "breaker" in row else None,
                requirement=row["requirement"],
                why=row["why"],
                build=bool(row.get("build")),
                torch=SpecifierSet(when["torch"]) if "torch" in when else None,
                python=SpecifierSet(when["python"]) if "python" in when else None,
                with_=when.get("with"),
                after=when.get("after"),
                unless=tuple([when["unless"]] if isinstance(when.get("unless"), str) else when.get("unless", ())),
            )
        )
    return tuple(out)


@cache
def excludes() -> tuple[tuple[str, str], ...]:
    return tuple(sorted((load("constraints.toml").get("exclude") or {}).items()))


def active_constraints(
    torch: Version | None, installs: tuple[str, ...], python: str | None = None
) -> tuple[Constraint, ...]:
    """The constraints that hold for this torch, Python and list of requirements to install.

    `after` chains are followed until nothing changes, so the order of rows does not matter.
    Without a torch (an empty venv, a lockfile for any torch), a torch row is judged against the
    oldest torch this Python can have (the rows are upper bounds, "<2.3"); without that either,
    every torch row applies: the safe side.
    """
    names = {req_name(r) for r in installs}
    if torch is None and python is not None:
        torch = oldest_torch(python)
    active: dict[str, Constraint] = {}
    changed = True
    while changed:
        changed = False
        for c in constraints():
            if c.id in active:
                continue
            if c.torch is not None and torch is not None and not c.torch.contains(Version(torch.base_version)):
                continue
            if c.python is not None and python is not None and not c.python.contains(python, prereleases=True):
                continue
            if c.with_ is not None and c.with_ not in names:
                continue
            if c.after is not None and c.after not in active:
                continue
            active[c.id] = c
            changed = True
    # `unless` is judged on the finished set: a row that another row makes redundant stays out.
    return tuple(c for c in constraints() if c.id in active and not any(u in active for u in c.unless))


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


@dataclass(frozen=True)
class NeedsWheel:
    package: str
    version: str
    wheels: SpecifierSet
    """The Pythons PyPI has wheels for."""
    python: SpecifierSet
    """The Pythons where a strategy needs a wheel at hand (or --build)."""
    why: str
    via: str | None = None
    """The package whose requirements bring it in, when no set names it."""

    @property
    def pin(self) -> str:
        return f"{self.package}=={self.version}"


@cache
def needs_wheel_all() -> tuple[NeedsWheel, ...]:
    return tuple(
        NeedsWheel(
            r["package"], r["version"], SpecifierSet(r["wheels"]), SpecifierSet(r["python"]), r["why"], r.get("via")
        )
        for r in load("constraints.toml").get("needs_wheel", [])
    )


def needs_wheel(python: str, installs: tuple[str, ...]) -> tuple[NeedsWheel, ...]:
    """The rows that hold on this Python for a plan that installs `installs` (directly or through mmpose)."""
    names = {req_name(r) for r in installs}
    return tuple(
        n
        for n in needs_wheel_all()
        if (n.package in names or n.via in names) and n.python.contains(python, prereleases=True)
    )
