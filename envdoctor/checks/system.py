"""System: the interpreter and the platform."""

from __future__ import annotations

from collections.abc import Iterator

from packaging.version import InvalidVersion, Version

from envdoctor.checks.base import CheckContext, CheckResult, ResultFactory, Status, check
from envdoctor.checks.texts import said
from envdoctor.envstate.journal import unfinished


@check("system.python", "System", "Python version")
def python_version(ctx: CheckContext, result: ResultFactory) -> Iterator[CheckResult]:
    py = ctx.facts.python
    try:
        v = Version(py.version or ctx.target.version)
    except InvalidVersion:  # the probe runs in the target; what it says is data, not a promise
        v = Version(ctx.target.version)
    found = f"Python {v} ({py.implementation or '?'}, {py.soabi or 'no SOABI'})"
    expected = "3.10 or 3.11 for MuseTalk's pinned set; 3.8-3.13 for the OpenMMLab stack"
    if v >= Version("3.14"):
        yield result(
            Status.FAIL if ctx.real_mmpose else Status.WARN,
            found=found,
            expected=expected,
            **said("system.python", "3.14"),
            breaker=13,
        )
    elif v >= Version("3.12"):
        yield result(
            Status.WARN,
            found=found,
            expected=expected,
            **said("system.python", "3.12+"),
        )
    else:
        yield result(Status.OK, found=found, expected=expected)


@check("system.platform", "System", "Operating system and architecture")
def platform(ctx: CheckContext, result: ResultFactory) -> Iterator[CheckResult]:
    p = ctx.facts.platform
    system, machine = p.system or "?", p.machine or "?"
    libc = f"glibc {p.glibc}" if p.glibc else (p.libc or "")
    found = " ".join(x for x in (system, machine, libc) if x)
    if system == "Linux" and machine in ("x86_64", "AMD64"):
        yield result(Status.OK, found=found, expected="Linux x86_64 (prebuilt mmcv wheels exist)")
    else:
        yield result(
            Status.WARN,
            found=found,
            expected="Linux x86_64 (prebuilt mmcv wheels exist)",
            **said("system.platform", "no-mmcv-wheels"),
        )


@check("system.pep668", "System", "Environment can be changed (PEP 668)")
def externally_managed(ctx: CheckContext, result: ResultFactory) -> Iterator[CheckResult]:
    py = ctx.facts.python
    if py.externally_managed:
        yield result(
            Status.WARN,
            found=f"{py.prefix} is externally managed (PEP 668)",
            expected="a virtual environment",
            **said("system.pep668", "externally-managed", series=py.series or "3.11"),
        )
    else:
        kind = "a virtual environment" if py.is_venv else "not externally managed"
        yield result(Status.OK, found=f"{py.prefix}: {kind}")


@check("system.unfinished-fix", "System", "No unfinished envdoctor fix")
def unfinished_fix(ctx: CheckContext, result: ResultFactory) -> Iterator[CheckResult]:
    state = unfinished(ctx.target.prefix)
    if state is None:
        yield result(Status.OK, found="no fix in progress")
    elif state.running:
        yield result(Status.WARN, found=state.sentence(), **said("system.unfinished-fix", "running"))
    else:
        yield result(
            Status.FAIL,
            found=state.sentence(),
            **said("system.unfinished-fix", "killed"),
        )
