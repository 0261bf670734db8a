"""System: the interpreter and the platform."""

from __future__ import annotations

from collections.abc import Iterator

from packaging.version import InvalidVersion, Version

from envdoctor.checks.base import CheckResult, Context, ResultFactory, Status, check


@check("system.python", "System", "Python version")
def python_version(ctx: Context, result: ResultFactory) -> Iterator[CheckResult]:
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
            why="Python 3.14 removed pkgutil.find_loader, which mmengine calls (breaker #13)",
            fix="use Python 3.10-3.13, or `envdoctor fix --strategy mmpose-free`",
            breaker=13,
        )
    elif v >= Version("3.12"):
        yield result(
            Status.WARN,
            found=found,
            expected=expected,
            why="MuseTalk's official pins (numpy 1.23.5, torch 2.0.1, tensorflow 2.12) have no wheels for 3.12+; "
            "prebuilt mmcv exists for 3.12 only as 2.2.0 with torch >=2.2",
            fix="envdoctor plan  (the modern requirement set, or the mmpose-free path)",
        )
    else:
        yield result(Status.OK, found=found, expected=expected)


@check("system.platform", "System", "Operating system and architecture")
def platform(ctx: Context, result: ResultFactory) -> Iterator[CheckResult]:
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
            why="no prebuilt mmcv wheels for this platform (none for aarch64, none for macOS since 2.1.0)",
            fix="envdoctor plan  (mmcv-lite with the stub, or the mmpose-free path)",
        )


@check("system.pep668", "System", "Environment can be changed (PEP 668)")
def externally_managed(ctx: Context, result: ResultFactory) -> Iterator[CheckResult]:
    py = ctx.facts.python
    if py.externally_managed:
        yield result(
            Status.WARN,
            found=f"{py.prefix} is externally managed (PEP 668)",
            expected="a virtual environment",
            why="the system's package manager owns this interpreter: envdoctor fix will not change it",
            fix="uv venv .venv --python " + (py.series or "3.11"),
        )
    else:
        kind = "a virtual environment" if py.is_venv else "not externally managed"
        yield result(Status.OK, found=f"{py.prefix}: {kind}")


@check("system.unfinished-fix", "System", "No unfinished envdoctor fix")
def unfinished_fix(ctx: Context, result: ResultFactory) -> Iterator[CheckResult]:
    from envdoctor.apply.journal import unfinished

    state = unfinished(ctx.target.prefix)
    if state is None:
        yield result(Status.OK, found="no fix in progress")
    elif state.running:
        yield result(Status.WARN, found=state.sentence(), why="what this check sees may change while that fix runs")
    else:
        yield result(
            Status.FAIL,
            found=state.sentence(),
            why="a fix was killed part-way: the environment holds a mix of before and after",
            fix="envdoctor fix --rollback  (or --resume to roll back and fix again)",
        )
