"""What a fix reports: each step's outcome, the verification, and the result as a whole."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from envdoctor.steps import Step


@dataclass(frozen=True)
class StepOutcome:
    step: Step
    ok: bool
    seconds: float
    message: str

    def to_dict(self) -> dict[str, Any]:
        return {"step": self.step.to_dict(), "ok": self.ok, "seconds": round(self.seconds, 2), "message": self.message}


@dataclass(frozen=True)
class FixVerification:
    exit_code: int
    source: str
    """envdoctor check, or what stood in for it."""
    failures: tuple[str, ...]
    failed_ids: tuple[str, ...] = ()
    """The ids of the failing checks (packages.mmcv-ext, tools.ffmpeg, ...)."""
    fetch_command: str | None = None
    """With a models/ folder whose files fail: the `envdoctor models fetch` command that places them."""


@dataclass(frozen=True)
class ApplyResult:
    ok: bool
    message: str
    outcomes: tuple[StepOutcome, ...]
    snapshot: tuple[str, ...]
    after: tuple[str, ...]
    rolled_back: bool = False
    restored: bool | None = None
    """After a rollback: are the environment's files the snapshot's again (every RECORD hash checked)?"""
    verification: FixVerification | None = None
    snapshot_file: str | None = None
    left_for_you: tuple[str, ...] = ()
    """Findings fix does not manage (model files, GPU driver, a system tool): the repaired env is kept."""
    notices: tuple[str, ...] = ()
    """Fallbacks said out loud (torch from PyPI because the PyTorch index cannot be reached)."""

    @property
    def exit_code(self) -> int:
        return 0 if self.ok else 1

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "message": self.message,
            "steps": [o.to_dict() for o in self.outcomes],
            "rolled_back": self.rolled_back,
            "restored": self.restored,
            "left_for_you": list(self.left_for_you),
            "notices": list(self.notices),
            "verification": None
            if self.verification is None
            else {
                "exit_code": self.verification.exit_code,
                "source": self.verification.source,
                "failures": list(self.verification.failures),
            },
            "snapshot_file": self.snapshot_file,
            "snapshot": list(self.snapshot),
            "after": list(self.after),
        }
