"""Judging a fix by what it owns.

fix manages Python packages: torch's companions, the OpenMMLab set or its replacement, the stub. The
check also reports things fix cannot change (model files, the GPU driver, a system tool it cannot
provide). Those are listed as left for the user and the repaired environment is kept; fix rolls back
only when a check it owns fails, or when any check that passed before the changes fails after them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from envdoctor import checkrun
from envdoctor.apply.results import FixVerification
from envdoctor.plan import Plan
from envdoctor.target import Target

# Check families whose findings fix does not manage (prefixes of check ids).
NOT_MANAGED = ("models.", "gpu.", "tools.")

Verifier = Callable[[Target, Plan], FixVerification]
Baseline = Callable[[Target], frozenset[str]]
"""The ids of the checks fix does not manage that fail before any change."""


def _managed(check_id: str) -> bool:
    return not check_id.startswith(NOT_MANAGED)


def check_verifier(target: Target, plan: Plan) -> FixVerification:
    """`envdoctor check` on the target: exit code 0 means every required check passes."""
    report = checkrun.run(target)
    failed = [r for r in report.results if getattr(r.status, "value", r.status) == "fail"]
    failures = tuple(f"{r.id}: {r.found or r.title}" + (f" ({r.why})" if r.why else "") for r in failed)
    return FixVerification(report.exit_code, "envdoctor check", failures, tuple(r.id for r in failed))


def baseline(target: Target) -> frozenset[str]:
    """The checks fix does not manage that fail before any change (cheap: no imports in the target)."""
    report = checkrun.run(target, only=tuple(p.rstrip(".") for p in NOT_MANAGED))
    return frozenset(r.id for r in report.failures)


@dataclass(frozen=True)
class Judgement:
    roll_back: bool
    reasons: tuple[str, ...]
    """Why it rolls back: owned checks that fail, or checks that passed before and fail now."""
    left_for_you: tuple[str, ...]


def judge(verification: FixVerification, failing_before: frozenset[str] | None) -> Judgement:
    """Roll back for an owned failure or a new failure; what fix does not manage and failed before stays."""
    if verification.exit_code == 0:
        return Judgement(False, (), ())
    if not verification.failed_ids:  # the check itself broke: nothing to sort, so nothing is kept
        return Judgement(True, verification.failures, ())
    reasons, left = [], []
    for check_id, text in zip(verification.failed_ids, verification.failures, strict=True):
        if _managed(check_id) or failing_before is None or check_id not in failing_before:
            reasons.append(text)
        else:
            left.append(text)
    return Judgement(bool(reasons), tuple(reasons), tuple(left))
