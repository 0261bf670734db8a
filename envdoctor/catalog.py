"""The breaker catalog: match what the user would see to a cause and a remedy (data/breakers.toml)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

from envdoctor.datafiles import load


@dataclass(frozen=True)
class Breaker:
    id: int
    key: str
    title: str
    symptoms: tuple[re.Pattern[str], ...]
    cause: str
    fix: str

    def matches(self, text: str) -> bool:
        return any(p.search(text) for p in self.symptoms)


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


def fill(template: str, values: dict[str, str]) -> str:
    return template.format_map(_Blank(values))


@cache
def breakers() -> tuple[Breaker, ...]:
    return tuple(
        Breaker(
            id=row["id"],
            key=row["key"],
            title=row["title"],
            symptoms=tuple(re.compile(s) for s in row["symptoms"]),
            cause=row["cause"],
            fix=row["fix"],
        )
        for row in load("breakers.toml")["breaker"]
    )


def explain(text: str, values: dict[str, str]) -> Explanation | None:
    """The first catalog entry whose symptom appears in `text`, with its templates filled."""
    for b in breakers():
        if b.matches(text):
            return Explanation(b.id, b.key, b.title, fill(b.cause, values), fill(b.fix, values))
    return None
