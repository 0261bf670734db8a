"""`envdoctor check` as a library call: target -> facts -> findings -> CheckReport."""

from __future__ import annotations

import fnmatch
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from envdoctor import process
from envdoctor.checks import REGISTRY, CheckContext, CheckResult, CheckSpec, Status
from envdoctor.errors import UsageError
from envdoctor.facts import Facts
from envdoctor.manifest import SCOPES, Manifest, builtin, scan_app
from envdoctor.probe import DEFAULT_IMPORT_TIMEOUT, Progress, gather
from envdoctor.target import Target
from envdoctor.uv import UvError, find_uv


@dataclass(frozen=True)
class CheckReport:
    target: Target
    manifest: Manifest
    facts: Facts
    results: tuple[CheckResult, ...]
    seconds: float
    scopes: tuple[str, ...] = ("inference",)
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def failures(self) -> list[CheckResult]:
        return [r for r in self.results if r.status is Status.FAIL]

    @property
    def warnings(self) -> list[CheckResult]:
        return [r for r in self.results if r.status is Status.WARN]

    @property
    def exit_code(self) -> int:
        """0 when every required check passes, 1 when one fails."""
        return 1 if self.failures else 0

    def summary(self) -> str:
        p, w, n = len(self.failures), len(self.warnings), len(self.results)
        if not p and not w:
            return f"No problems in {n} checks."
        parts = []
        if p:
            parts.append(f"{p} problem{'s' if p != 1 else ''}")
        if w:
            parts.append(f"{w} warning{'s' if w != 1 else ''}")
        return f"{', '.join(parts)} in {n} checks."


def selected(only: Sequence[str] = ()) -> list[CheckSpec]:
    """The checks whose id matches one of `only` (globs; a bare prefix matches its family)."""
    if not only:
        return list(REGISTRY)
    picked = [
        s for s in REGISTRY if any(fnmatch.fnmatch(s.id, o) or s.id.startswith(o + ".") or s.id == o for o in only)
    ]
    if not picked:
        known = ", ".join(s.id for s in REGISTRY)
        raise UsageError(f"No check matches {', '.join(only)}; known checks: {known}.")
    return picked


def _uv_check(target: Target) -> list[str] | None:
    try:
        proc = find_uv().run(["pip", "check", "--python", str(target.python)], check=False, timeout=60)
    except (OSError, UvError, FileNotFoundError):
        return None
    if proc.returncode not in (0, 1):
        return None
    lines = (proc.stdout + proc.stderr).splitlines()
    return (
        [ln.strip().lstrip("- ").strip() for ln in lines if ln.strip().startswith(("The package", "-"))]
        or [ln.strip() for ln in lines if "requires" in ln or "but" in ln]
        if proc.returncode == 1
        else []
    )


def run(
    target: Target,
    *,
    app: Path | None = None,
    models: Path | None = None,
    scopes: Sequence[str] = ("inference",),
    only: Sequence[str] = (),
    import_timeout: float = DEFAULT_IMPORT_TIMEOUT,
    torch_home: Path | None = None,
    progress: Progress | None = None,
) -> CheckReport:
    """Probe the target and run the checks; never changes anything."""
    t0 = time.perf_counter()
    bad = [s for s in scopes if s not in SCOPES]
    if bad:
        raise UsageError(f"Unknown scope {bad[0]}: choose from {', '.join(SCOPES)}.")
    if models is not None and not Path(models).is_dir():
        raise UsageError(f"--models {models} is not a folder.")
    manifest = scan_app(Path(app)) if app is not None else builtin()
    specs = selected(only)
    needs_imports = any(s.needs_imports for s in specs)
    # A scan probes what the chosen scopes' entry points reach; what none reaches is listed, never imported.
    modules = manifest.modules_to_probe(scopes)
    facts = gather(
        target,
        modules if needs_imports else [],
        import_timeout=import_timeout,
        # The checkout is never put on sys.path: that would run its code (an app-local `mmcv/` would be
        # imported instead of the installed one). Its own modules are reported by imports.app-local.
        progress=progress,
    )
    ctx = CheckContext(
        target=target,
        facts=facts,
        manifest=manifest,
        scopes=tuple(scopes),
        models=Path(models) if models is not None else None,
        torch_home=torch_home,
        uv_check=_uv_check(target) if any(s.id == "packages.consistent" for s in specs) else None,
    )
    results: list[CheckResult] = []
    for spec in specs:
        results.extend(spec.run(ctx))  # guarded: a check that raises is one failed row
    notes = tuple(f"probe problem: {e}" for e in facts.probe_errors)
    removed = process.removed_from_env()
    if removed:
        # The shell's values would have made the probes see modules the target does not have.
        notes += (f"not passed on to the target, as they change what it imports: {', '.join(removed)}",)
    return CheckReport(
        target=target,
        manifest=manifest,
        facts=facts,
        results=tuple(results),
        seconds=round(time.perf_counter() - t0, 3),
        scopes=tuple(scopes),
        notes=notes,
    )
