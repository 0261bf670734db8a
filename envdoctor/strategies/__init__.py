"""The ways to give MuseTalk a working `mmpose`, each judged against the facts of one target.

Every strategy module has `name`, `rank` (lower is preferred), `description`,
`judge(ctx) -> Verdict` and `steps(ctx) -> tuple[Step, ...]`.
"""

from __future__ import annotations

from envdoctor.strategies import lite_stub, mmpose_free, prebuilt
from envdoctor.strategies.base import CHOSEN, POSSIBLE, REJECTED, Context, Options, Step, Strategy, Verdict

ALL: tuple[Strategy, ...] = tuple(sorted((prebuilt, lite_stub, mmpose_free), key=lambda s: s.rank))


def by_name(name: str) -> Strategy:
    for s in ALL:
        if s.name == name:
            return s
    raise KeyError(name)


__all__ = ["ALL", "CHOSEN", "POSSIBLE", "REJECTED", "Context", "Options", "Step", "Strategy", "Verdict", "by_name"]
