"""The vocabulary of checks: specs, results, the context they read, and the registry."""

from __future__ import annotations

import traceback
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any, Protocol

from envdoctor.dwpose.meta import DIST_NAME
from envdoctor.facts import Distribution, Facts
from envdoctor.manifest import Manifest
from envdoctor.target import Target

# envdoctor's mmpose-free port in a target (named, not imported: checks stay light); the stub's is facts.STUB_DIST.

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


def worst(results: Iterable[CheckResult]) -> Status:
    """The status a group of results shows: the worst of FAIL, WARN, OK; SKIP when nothing ran."""
    statuses = {r.status for r in results}
    return next((s for s in (Status.FAIL, Status.WARN, Status.OK) if s in statuses), Status.SKIP)


class ResultFactory(Protocol):
    """Makes a CheckResult for one check: its id and category are bound, the title defaults to the check's."""

    def __call__(self, status: Status, **kw: Any) -> CheckResult: ...


CheckFunction = Callable[["CheckContext", ResultFactory], Iterable[CheckResult]]


@dataclass(frozen=True)
class CheckSpec:
    id: str
    category: str
    title: str
    needs_imports: bool
    fn: CheckFunction

    def result(self, status: Status, **kw: Any) -> CheckResult:
        if not isinstance(status, Status):  # the id is bound: an old-style result("id", ...) call lands here
            raise TypeError(f"{self.id}: result() takes the status first, not {status!r}")
        return CheckResult(id=self.id, category=self.category, title=kw.pop("title", self.title), status=status, **kw)

    def __call__(self, ctx: CheckContext) -> Iterator[CheckResult]:
        """The check's results, unguarded (tests call a check this way)."""
        yield from self.fn(ctx, self.result)

    def run(self, ctx: CheckContext) -> list[CheckResult]:
        """The check's results; a check that raises becomes one failed row, so the other checks still run."""
        try:
            return list(self(ctx))
        except Exception as e:  # a bug in one check must not end the whole report
            return [self.crashed(e)]

    def crashed(self, e: BaseException) -> CheckResult:
        return self.result(
            Status.FAIL,
            found=f"the check {self.id} raised {type(e).__name__}: {e}",
            expected="the check runs to the end",
            why="a bug in envdoctor, not necessarily a problem of this environment; the other checks still ran",
            fix="report it with the output of `envdoctor check --json` (details.traceback holds the trace)",
            details={
                "exception": type(e).__name__,
                "traceback": traceback.format_exception(type(e), e, e.__traceback__),
            },
        )


@dataclass
class CheckContext:
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
        return any(d.key == DIST_NAME for d in self.facts.providers("mmpose"))

    def mmcv_providers(self) -> list[Distribution]:
        """Distributions that install the mmcv package itself; envdoctor's stub only adds mmcv/_ext.py."""
        return self.facts.mmcv_providers()

    @property
    def real_mmpose(self) -> bool:
        return self.facts.dist("mmpose") is not None

    def versions(self) -> dict[str, str]:
        """Template values: every installed distribution's version by name, plus a few derived ones."""
        values = {d.key: d.version for d in self.facts.distributions.values()}
        values.update({k.replace("-", "_"): v for k, v in list(values.items())})
        if self.facts.torch is not None and self.facts.torch.version:
            values["torch"] = self.facts.torch.version
        if self.facts.mmcv.version:
            values["mmcv"] = self.facts.mmcv.version
        providers = [f"{d.name} {d.version}" for d in self.mmcv_providers()]
        values["mmcv_provider"] = " and ".join(providers) or "no distribution"
        return values


REGISTRY: list[CheckSpec] = []


def check(id: str, category: str, title: str, *, needs_imports: bool = False) -> Callable[[CheckFunction], CheckSpec]:
    """Register a check function under `id`; it is called with the CheckContext and a result factory bound to `id`."""
    assert category in CATEGORIES, category

    def deco(fn: CheckFunction) -> CheckSpec:
        spec = CheckSpec(id, category, title, needs_imports, fn)
        REGISTRY.append(spec)
        return spec

    return deco
