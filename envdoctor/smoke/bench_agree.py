"""Whether repeated timings of the same stage agree within the noise the machine showed while making them.

A group is the steady-state frames of one pass (or of one whole run). The noise is measured, not a fixed
percentage: the widest interquartile range of the frames inside any one group, the frame-to-frame spread
the machine itself shows. The groups agree when their medians lie within that spread of each other.
Where no group holds frames of more than one measurement (one batch a pass: every frame of a pass shares
its batch's time) there is no spread to hold the medians against, and the answer is undetermined."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Spread:
    median: float
    q1: float
    q3: float
    low: float
    high: float

    @property
    def iqr(self) -> float:
        return self.q3 - self.q1


def spread(samples: Sequence[float]) -> Spread:
    """Median, quartiles (inclusive: they never leave the samples' range) and the extremes."""
    if not samples:
        raise ValueError("no samples")
    if len(samples) == 1:
        q1 = q3 = samples[0]
    else:
        q1, _, q3 = statistics.quantiles(samples, n=4, method="inclusive")
    return Spread(statistics.median(samples), q1, q3, min(samples), max(samples))


@dataclass(frozen=True)
class Agree:
    medians: tuple[float, ...]
    noise: float  # the widest within-group interquartile range
    gap: float  # max - min of the medians, <= noise


@dataclass(frozen=True)
class Disagree:
    medians: tuple[float, ...]
    noise: float
    gap: float  # > noise


@dataclass(frozen=True)
class Undetermined:
    medians: tuple[float, ...]
    reason: str


Agreement = Agree | Disagree | Undetermined


def agreement(groups: Sequence[Sequence[float]]) -> Agreement:
    medians = tuple(statistics.median(g) for g in groups if g)
    if len(medians) < 2:
        return Undetermined(medians, "fewer than two groups of frames to compare")
    noise = max(spread(g).iqr for g in groups if g)
    gap = max(medians) - min(medians)
    if noise <= 0.0:
        return Undetermined(
            medians,
            "no spread between the frames of a group (one batch each): use a smaller --batch-size or more --seconds",
        )
    return Agree(medians, noise, gap) if gap <= noise else Disagree(medians, noise, gap)
