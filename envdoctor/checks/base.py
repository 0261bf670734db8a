"""The vocabulary of checks: specs, results, the context they read, and the registry."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

from envdoctor.facts import Distribution, Facts
from envdoctor.manifest import Manifest
from envdoctor.target import Target

# envdoctor's own distributions in a target (named here, not imported: checks stay light).
STUB_DIST = "mmcv-ext-stub"  # envdoctor.stub
PORT_DIST = "envdoctor-mmpose-free"  # envdoctor.dwpose

CATEGORIES = ("System", "GPU", "Packages", "Imports", "Models", "Tools")


class Status(str, Enum):
    OK = "ok"
    WARN = "warn"
    FAIL = "fail"
    SKIP = "skip"


@dataclass(frozen=True)
class CheckResult:
    id: str
    category: str
    title: str
    status: Status
    found: str = ""
    expected: str = ""
    why: str = ""
    fix: str = ""
    breaker: int | None = None
    seconds: float | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "category": self.category,
            "title": self.title,
            "status": self.status.value,
            "found": self.found,
            "expected": self.expected,
            "why": self.why,
            "fix": self.fix,
            "breaker": self.breaker,
            "seconds": self.seconds,
            "details": self.details,
        }


@dataclass(frozen=True)
class CheckSpec:
    id: str
    category: str
    title: str
    needs_imports: bool
    run: Callable[[Context], Iterable[CheckResult]]


@dataclass
class Context:
    target: Target
    facts: Facts
    manifest: Manifest
    scopes: tuple[str, ...] = ("inference",)
    models: Path | None = None
    torch_home: Path | None = None
    uv_check: list[str] | None = None
    """Conflicts that `uv pip check` reported, or None if it was not run."""

    @property
    def port_provides_mmpose(self) -> bool:
        """mmpose comes from envdoctor's mmpose-free port, not from OpenMMLab."""
        return any(d.key == PORT_DIST for d in self.facts.providers("mmpose"))

    def mmcv_providers(self) -> list[Distribution]:
        """Distributions that install the mmcv package itself; envdoctor's stub only adds mmcv/_ext.py."""
        return [d for d in self.facts.providers("mmcv") if d.key != STUB_DIST]

    @property
    def real_mmpose(self) -> bool:
        return self.facts.dist("mmpose") is not None

    def versions(self) -> dict[str, str]:
        """Template values: every installed distribution's version by name, plus a few derived ones."""
        values = {d.key: d.version for d in self.facts.distributions.values()}
        values.update({k.replace("-", "_"): v for k, v in list(values.items())})
        if self.facts.torch and self.facts.torch.get("version"):
            values["torch"] = self.facts.torch["version"]
        mmcv = self.facts.mmcv or {}
        if mmcv.get("version"):
            values["mmcv"] = mmcv["version"]
        providers = [f"{d.name} {d.version}" for d in self.mmcv_providers()]
        values["mmcv_provider"] = " and ".join(providers) or "no distribution"
        return values


REGISTRY: list[CheckSpec] = []


def check(id: str, category: str, title: str, *, needs_imports: bool = False):
    """Register a check function under `id`."""
    assert category in CATEGORIES, category

    def deco(fn: Callable[[Context], Iterable[CheckResult]]):
        REGISTRY.append(CheckSpec(id, category, title, needs_imports, fn))
        return fn

    return deco


def result(spec_id: str, status: Status, **kw: Any) -> CheckResult:
    spec = next(s for s in REGISTRY if s.id == spec_id)
    return CheckResult(id=spec_id, category=spec.category, title=kw.pop("title", spec.title), status=status, **kw)
