"""Which installed distributions a scope needs: those providing what its imports reach, and what they require.

A conflict `uv pip check` reports matters for a scope only when the distribution that declares the unmet
requirement is one the scope's imports bring in (typer's pin on rich matters to the app, whose gradio needs
typer, not to inference). The roots are the modules the manifest has in the scope (for a scanned checkout,
what the scope's entry points reach, with the file:line of the import); the rest follows the installed
metadata's Requires-Dist, extras left out.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass

from packaging.markers import UndefinedComparison, UndefinedEnvironmentName
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from envdoctor.facts import Facts
from envdoctor.manifest import Manifest

BUILT_IN_AT = "MuseTalk's sources"
"""Where an import of the built-in list is: its rows name no file."""


@dataclass(frozen=True)
class Need:
    """Why a scope needs a distribution: the module it imports, where, and the requirements down to it."""

    scope: str
    module: str
    at: str
    """file:line of the import (a scanned checkout), else where the built-in list has it from."""
    chain: tuple[str, ...]
    """Distribution names from the one providing `module` to the needed one (both included)."""

    @property
    def path(self) -> str:
        return " -> ".join(self.chain)


def requirements(lines: Iterable[str], python: str | None = None) -> list[Requirement]:
    """The requirements a distribution declares that apply without extras (and, when given, on this Python)."""
    env = {"extra": ""}
    if python:
        env.update(python_version=".".join(python.split(".")[:2]), python_full_version=python)
    out = []
    for line in lines:
        try:
            req = Requirement(line)
        except InvalidRequirement:
            continue
        try:
            applies = req.marker is None or req.marker.evaluate(env)
        except (UndefinedComparison, UndefinedEnvironmentName, ValueError):
            applies = True  # a marker this Python cannot decide: kept, so that a conflict is said, not hidden
        if applies:
            out.append(req)
    return out


def needed(facts: Facts, manifest: Manifest, scope: str) -> dict[str, Need]:
    """Canonical distribution name -> why `scope` needs it (the shortest chain found), for what is installed."""
    found: dict[str, Need] = {}
    todo: deque[str] = deque()
    for entry in manifest.entries:
        if not entry.probed or not manifest.in_scope(entry, [scope]):
            continue
        reach = entry.reach_for([scope]) if manifest.scanned else None
        roots = [*facts.providers(entry.top), *(d for n in entry.dists if (d := facts.dist(n)) is not None)]
        for d in roots:
            if d.key not in found:
                found[d.key] = Need(
                    scope=scope, module=entry.name, at=reach.at if reach else BUILT_IN_AT, chain=(d.name,)
                )
                todo.append(d.key)
    while todo:
        key = todo.popleft()
        dist, need = facts.dist(key), found[key]
        if dist is None:
            continue
        for req in requirements(dist.requires, facts.python.version):
            dep = facts.dist(req.name)
            name = canonicalize_name(req.name)
            if dep is None or name in found:
                continue
            found[name] = Need(scope=scope, module=need.module, at=need.at, chain=(*need.chain, dep.name))
            todo.append(name)
    return found
