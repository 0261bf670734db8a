"""Judging a fix by what it owns.

fix manages Python packages: torch's companions, the OpenMMLab set or its replacement, the stub. The
check also reports things fix cannot change (model files, the GPU driver, a system tool it cannot
provide). Those are listed as left for the user and the repaired environment is kept; fix rolls back
only when a check it owns fails, or when any check that passed before the changes fails after them.
Given the models/ folder (`fix --models DIR`), the check holds it to the manifest too: each model file that
fails is named, and the exact `envdoctor models fetch` command that places them is left for the user.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from envdoctor import checkrun
from envdoctor.apply.results import FixVerification
from envdoctor.checks import REGISTRY, CheckResult
from envdoctor.models import manifest as models_manifest
from envdoctor.models.advice import fetch_command
from envdoctor.models.verify import verify
from envdoctor.plan import Plan
from envdoctor.target import Target

# Check families whose findings fix does not manage (prefixes of check ids).
NOT_MANAGED = ("models.", "gpu.", "tools.")

Verifier = Callable[[Target, Plan], FixVerification]
Baseline = Callable[[Target], frozenset[str]]
"""The ids of the checks fix does not manage that fail before any change."""


def _managed(check_id: str) -> bool:
    return not check_id.startswith(NOT_MANAGED)


def _failure(r: CheckResult) -> str:
    """One line for a failing check; a result about one item (a model file) names it."""
    spec_title = next((s.title for s in REGISTRY if s.id == r.id), r.title)
    what = f"{r.title}: {r.found}" if r.found and r.title != spec_title else (r.found or r.title)
    return f"{r.id}: {what}" + (f" ({r.why})" if r.why else "")


def _fetch_command(models: Path | None, failed: list[CheckResult]) -> str | None:
    """The command that places the model files that fail: their verdicts are the check's own (remembered by
    hash, so this costs a stat per file)."""
    if models is None or not any(r.id.startswith("models.") for r in failed):
        return None
    manifest = models_manifest.active()
    roots = models_manifest.Roots(models, models_manifest.torch_home())
    return fetch_command(models, verify(manifest, manifest.for_purpose("inference", "v15"), roots))


def check_verifier(target: Target, plan: Plan, models: Path | None = None) -> FixVerification:
    """`envdoctor check` on the target (and the model files under `models`): exit code 0 means every required
    check passes."""
    report = checkrun.run(target, models=models)
    failed = [r for r in report.results if getattr(r.status, "value", r.status) == "fail"]
    failures = tuple(_failure(r) for r in failed)
    return FixVerification(
        report.exit_code, "envdoctor check", failures, tuple(r.id for r in failed), _fetch_command(models, failed)
    )


def baseline(target: Target, models: Path | None = None) -> frozenset[str]:
    """The checks fix does not manage that fail before any change (cheap: no imports in the target)."""
    report = checkrun.run(target, models=models, only=tuple(p.rstrip(".") for p in NOT_MANAGED))
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
    if verification.fetch_command and any(t.startswith("models.") for t in left):
        left.append(f"to place the model files, each verified by sha256: {verification.fetch_command}")
    return Judgement(bool(reasons), tuple(reasons), tuple(left))
