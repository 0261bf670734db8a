"""Version windows: which mmcv releases the mmdet / mmpose releases accept on import (envdoctor/data/windows.toml)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.version import Version

from envdoctor.datafiles import load
from envdoctor.facts import canonical


@dataclass(frozen=True)
class Window:
    package: str
    applies: SpecifierSet
    mmcv: SpecifierSet

    def covers(self, package: str, version: Version) -> bool:
        return canonical(package) == self.package and self.applies.contains(version, prereleases=True)


@cache
def windows() -> tuple[Window, ...]:
    rows = load("windows.toml")["window"]
    return tuple(Window(canonical(r["package"]), SpecifierSet(r["applies"]), SpecifierSet(r["mmcv"])) for r in rows)


def window_for(package: str, version: Version) -> Window | None:
    """The mmcv window that `package` at `version` asserts on import, if known."""
    for w in windows():
        if w.covers(package, version):
            return w
    return None


def window_problems(mmcv: str, openmmlab: tuple[str, ...]) -> list[str]:
    """Why mmcv `mmcv` fails the import-time windows of the pinned OpenMMLab packages (empty: fits)."""
    problems = []
    for req in openmmlab:
        r = Requirement(req)
        pins = [s.version for s in r.specifier if s.operator == "=="]
        if not pins:
            continue
        w = window_for(r.name, Version(pins[0]))
        if w and not w.mmcv.contains(Version(mmcv), prereleases=True):
            problems.append(f"{r.name} {pins[0]} accepts mmcv {w.mmcv}")
    return problems
