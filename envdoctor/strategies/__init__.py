"""The ways to give MuseTalk a working `mmpose`, each judged against the facts of one target.

Each is one class behind envdoctor.strategies.base.Strategy; `plan` and `lock` iterate over ALL and
never name one.
"""

from __future__ import annotations

from envdoctor.strategies.base import (
    CHOSEN,
    POSSIBLE,
    REJECTED,
    Candidate,
    Context,
    LockPackages,
    Options,
    Rejection,
    Strategy,
    StrategyVerdict,
)
from envdoctor.strategies.lite_stub import LiteStub
from envdoctor.strategies.mmpose_free import MmposeFree
from envdoctor.strategies.prebuilt import Prebuilt

ALL: tuple[Strategy, ...] = tuple(sorted((Prebuilt(), LiteStub(), MmposeFree()), key=lambda s: s.rank))


def by_name(name: str) -> Strategy:
    for s in ALL:
        if s.name == name:
            return s
    raise KeyError(name)


def names() -> tuple[str, ...]:
    return tuple(s.name for s in ALL)


__all__ = [
    "ALL", "CHOSEN", "POSSIBLE", "REJECTED", "Candidate", "Context", "LockPackages", "Options", "Rejection",
    "Strategy", "StrategyVerdict", "by_name", "names",
]  # fmt: skip
