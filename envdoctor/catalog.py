"""The breaker catalog (data/breakers.toml): how each failure shows itself, its cause and its remedy."""

from __future__ import annotations

import re
import string
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache

from envdoctor.datafiles import load

ENVIRONMENT, NOT_ENVIRONMENT = "environment", "not-environment"


@dataclass(frozen=True)
class Breaker:
    id: int
    key: str
    title: str
    anchors: tuple[str, ...]
    """Literals that must appear on the failing line; only these are looked for in the whole text."""
    symptoms: tuple[re.Pattern[str], ...]
    """Matched on the failing line alone."""
    cause: str
    fix: str
    near: tuple[re.Pattern[str], ...] = ()
    """At least one must match in the lines around the failing line (when given)."""
    hides: tuple[str, ...] = ()
    """Keys of failures that are this one's cascade."""
    kind: str = ENVIRONMENT
    here: tuple[str, ...] = ()
    """Sentences with facts of the target; the first whose fields are all known is shown."""
    order: int = 0
    """Position in the catalog: on one line, the earlier entry wins."""
    warning: bool = False
    """A notice or warning line, printed on runs that work too: reported as a warning, never as the root
    failure."""
    raised_in: re.Pattern[str] | None = None
    """When given, must match the path of the frame that raised (the last `File "..."` line above the failing
    line): the package the failure comes from, not a phrase."""
    raised_by: re.Pattern[str] | None = None
    """When given, must match the source line of that frame (an import statement, a call)."""
    unframed: bool = False
    """With raised_in/raised_by: whether a report that shows no frame above the failing line still counts
    (the message itself then carries the fact, e.g. the installed file it looked in)."""

    @property
    def environment(self) -> bool:
        return self.kind == ENVIRONMENT


class _Blank(dict):  # a template field with no fact behind it reads "?", never a KeyError
    def __missing__(self, key: str) -> str:
        return "?"


def fill(template: str, values: Mapping[str, str]) -> str:
    return template.format_map(_Blank(values))


def fields(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def fill_if_known(templates: tuple[str, ...], values: Mapping[str, str]) -> str | None:
    """The first template whose fields all have values, filled; None when there is none."""
    known = {k for k, v in values.items() if v and v != "?"}
    for template in templates:
        if fields(template) <= known:
            return fill(template, values)
    return None


@cache
def triggers() -> tuple[str, ...]:
    return tuple(load("breakers.toml")["triggers"])


@cache
def breakers() -> tuple[Breaker, ...]:
    return tuple(
        Breaker(
            id=row["id"],
            key=row["key"],
            title=row["title"],
            anchors=tuple(row["anchors"]),
            symptoms=tuple(re.compile(s) for s in row["symptoms"]),
            cause=row["cause"],
            fix=row["fix"],
            near=tuple(re.compile(s) for s in row.get("near", ())),
            hides=tuple(row.get("hides", ())),
            kind=row.get("kind", ENVIRONMENT),
            here=tuple([row["here"]] if isinstance(row.get("here"), str) else row.get("here", ())),
            order=i,
            warning=bool(row.get("warning", False)),
            raised_in=_compiled(row.get("raised_in")),
            raised_by=_compiled(row.get("raised_by")),
            unframed=bool(row.get("unframed", False)),
        )
        for i, row in enumerate(load("breakers.toml")["breaker"])
    )


def _compiled(pattern: str | None) -> re.Pattern[str] | None:
    return re.compile(pattern) if pattern is not None else None


def by_key(key: str) -> Breaker:
    for b in breakers():
        if b.key == key:
            return b
    raise KeyError(key)
