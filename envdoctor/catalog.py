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
    here: str | None = None
    """A sentence with facts of the target; shown only when every field is known."""
    order: int = 0
    """Position in the catalog: on one line, the earlier entry wins."""

    @property
    def environment(self) -> bool:
        return self.kind == ENVIRONMENT


@dataclass(frozen=True)
class Explanation:
    breaker: int
    key: str
    title: str
    cause: str
    fix: str


class _Blank(dict):  # a template field with no fact behind it reads "?", never a KeyError
    def __missing__(self, key: str) -> str:
        return "?"


def fill(template: str, values: Mapping[str, str]) -> str:
    return template.format_map(_Blank(values))


def fields(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def fill_if_known(template: str | None, values: Mapping[str, str]) -> str | None:
    """The template filled, or None when one of its fields has no value."""
    if not template or not fields(template) <= {k for k, v in values.items() if v}:
        return None
    return fill(template, values)


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
            here=row.get("here"),
            order=i,
        )
        for i, row in enumerate(load("breakers.toml")["breaker"])
    )


def by_key(key: str) -> Breaker:
    for b in breakers():
        if b.key == key:
            return b
    raise KeyError(key)


def explain(text: str, values: Mapping[str, str]) -> Explanation | None:
    """The root failure in `text` as the explainer finds it (envdoctor.explain), templates filled."""
    from envdoctor.explain import explain_text

    result = explain_text(text, values)
    root = result.root
    if root is None:
        return None
    cause = root.cause + (f" ({root.here})" if root.here else "")
    return Explanation(root.breaker, root.key, root.title, cause, root.fix)
