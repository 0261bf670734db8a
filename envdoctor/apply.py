"""Carry out a Plan on its target: snapshot, steps through uv, verify with the check, roll back.

The snapshot is `uv pip freeze` before the first change. If any step fails (uv exits non-zero or
is killed, an index cannot be reached, a hash does not match, torch moved although it is held, or
the check is still red afterwards), the environment is synced back to that exact list and frozen
again, and the result says whether the two lists are equal.
"""

from __future__ import annotations

import signal
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from envdoctor.plan import Plan
from envdoctor.strategies import Step
from envdoctor.strategies.common import HELD
from envdoctor.target import Target
from envdoctor.uv import Indexes, Uv, UvError, find_uv, write_config

Progress = Callable[[str], None]
TICK_SECONDS = 20.0
DEFAULT_CACHE = Path.home() / ".cache" / "envdoctor"


class StepFailed(RuntimeError):
    """A step did not do its job; the message is the user's sentence."""


@dataclass(frozen=True)
class Sources:
    """Where packages come from. `torch` None: uv's --torch-backend auto picks the index for this machine."""

    indexes: Indexes = field(default_factory=Indexes)
    torch: Indexes | None = None


@dataclass(frozen=True)
class StepOutcome:
    step: Step
    ok: bool
    seconds: float
    message: str

    def to_dict(self) -> dict[str, Any]:
        return {"step": self.step.to_dict(), "ok": self.ok, "seconds": round(self.seconds, 2), "message": self.message}


@dataclass(frozen=True)
class Verification:
    exit_code: int
    source: str
    """envdoctor check, or the import fallback when the check is not available."""
    failures: tuple[str, ...]


@dataclass(frozen=True)
class ApplyResult:
    ok: bool
    message: str
    outcomes: tuple[StepOutcome, ...]
    snapshot: tuple[str, ...]
    after: tuple[str, ...]
    rolled_back: bool = False
    restored: bool | None = None
    """After a rollback: does `uv pip freeze` equal the snapshot again?"""
    verification: Verification | None = None
    snapshot_file: str | None = None

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


Verifier = Callable[[Target, Plan], Verification]


def check_verifier(target: Target, plan: Plan) -> Verification:
    """`envdoctor check` on the target: exit code 0 means every required check passes."""
    try:
        from envdoctor import check
    except ImportError:  # the check lands separately; without it, say so and import the key modules
        return _import_verifier(target, plan)
    report = check.run(target)
    failures = tuple(
        f"{r.id}: {r.found or r.title}" + (f" ({r.why})" if r.why else "")
        for r in report.results
        if getattr(r.status, "value", r.status) == "fail"
    )
    return Verification(report.exit_code, "envdoctor check", failures)


def _import_verifier(target: Target, plan: Plan) -> Verification:
    from envdoctor import probe

    modules = ["torch", "numpy", "cv2", "mmpose.apis"]
    if plan.chosen != "mmpose-free":
        modules[3:3] = ["mmcv.ops", "mmdet.models"]
    facts = probe.gather(target, modules)
    failures = tuple(f"import {r.module}: {r.status} {r.message or ''}".strip() for r in facts.imports if not r.ok)
    return Verification(1 if failures else 0, "imports (envdoctor.check is not available)", failures)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, UvError):
        if exc.returncode < 0:
            try:
                sig = signal.Signals(-exc.returncode).name
            except ValueError:
                sig = f"signal {-exc.returncode}"
            return f"uv was killed ({sig}) during `uv {' '.join(exc.args_[:2])}`"
        tail = [ln for ln in exc.stderr.strip().splitlines() if ln.strip()][-6:]
        return f"`uv {' '.join(exc.args_[:2])}` failed (exit {exc.returncode}): " + " | ".join(
            ln.strip() for ln in tail
        )
    return f"{type(exc).__name__}: {exc}"


def _write(folder: Path, name: str, lines: tuple[str, ...] | list[str]) -> Path:
    path = folder / name
    path.write_text("\n".join(lines) + "\n")
    return path


def _ticker(progress: Progress, label: str) -> Callable[[], None]:
    """Prints 'still working' every TICK_SECONDS until the returned stop() is called."""
    stop = threading.Event()
    t0 = time.monotonic()

    def run() -> None:
        while not stop.wait(TICK_SECONDS):
            progress(f"   ... {label}: {time.monotonic() - t0:.0f} s")

    thread = threading.Thread(target=run, daemon=True)
    thread.start()

    def finish() -> None:
        stop.set()
        thread.join()

    return finish


class _Runner:
    def __init__(self, plan: Plan, uv: Uv, sources: Sources, work: Path, cache: Path) -> None:
        self.plan = plan
        self.target = plan.target
        self.py = plan.target.python
        self.uv = uv
        self.sources = sources
        self.work = work
        self.cache = cache
        self.stub_with_pins = False

    def run(self, step: Step) -> str:
        handler = getattr(self, "do_" + step.kind.replace("-", "_"))
        return handler(step)

    def _indexes(self, step: Step) -> Indexes:
        base = self.sources.indexes
        return Indexes(
            index_url=base.index_url,
            extra_index_urls=base.extra_index_urls,
            find_links=(*step.find_links, *base.find_links),
            strategy=base.strategy,
            no_index=base.no_index,
        )

    def _common_extra(self, step: Step) -> list[str]:
        extra: list[str] = []
        if step.build_constraints:
            extra += ["--build-constraints", str(_write(self.work, "build-constraints.txt", step.build_constraints))]
        for name in step.reinstall:
            extra += ["--reinstall-package", name]
        for name in step.only_binary:
            extra += ["--only-binary", name]
        if step.extra_build:
            extra += ["--config-file", str(write_config(self.work, step.extra_build))]
        return extra

    def do_uninstall(self, step: Step) -> str:
        self.uv.pip_uninstall(self.py, list(step.packages))
        return "removed " + ", ".join(step.packages)

    def do_torch(self, step: Step) -> str:
        rset = self.plan.requirement_set
        reqs = [f"torch{rset.torch}" if rset else "torch", "torchvision"]
        local = _local_torch(self.sources.torch)
        if local:
            # Only a folder of wheels: pin what is in it, so an index's torch can never win over it.
            reqs = local
        if self.sources.torch is not None:
            self.uv.pip_install(self.py, reqs, indexes=self.sources.torch)
            where = "the torch index given"
        else:
            self.uv.pip_install(self.py, reqs, extra=["--torch-backend", "auto"])
            where = "uv's --torch-backend auto (the index for this machine's driver)"
        return f"installed torch and torchvision from {where}"

    def do_install(self, step: Step) -> str:
        extra = self._common_extra(step)
        if step.excludes:
            extra += ["--excludes", str(_write(self.work, "excludes.txt", step.excludes))]
        cons = [_write(self.work, "constraints.txt", step.constraints)] if step.constraints else []
        self.uv.pip_install(self.py, list(step.packages), constraints=cons, indexes=self._indexes(step), extra=extra)
        return f"installed {len(step.packages)} requirements and their dependencies"

    def do_install_lock(self, step: Step) -> str:
        assert step.lockfile
        lockfile = Path(step.lockfile)
        # --no-deps and --require-hashes (pip_install_locked): the lockfile is the whole closure except
        # the held torch, which stays as it is, and every artifact must match its recorded hash.
        extra = self._common_extra(step)
        stub_wheel = self._kept_stub_wheel(lockfile) if any(s.kind == "stub" for s in self.plan.steps) else None
        requirements = []
        if stub_wheel is not None:
            # The stub rides in the same uv transaction as the pins: one resolve, one install.
            requirements.append(str(stub_wheel))
            extra += ["--reinstall-package", "mmcv-ext-stub"]
        self.uv.pip_install_locked(self.py, lockfile, wheels=requirements, indexes=self._indexes(step), extra=extra)
        self.stub_with_pins = stub_wheel is not None
        with_stub = " and the kept `_ext` stub" if stub_wheel is not None else ""
        return f"installed the pins of {lockfile.name}{with_stub}"

    def _kept_stub_wheel(self, lockfile: Path) -> Path | None:
        """The wheel of the kept stub for the mmcv-lite the lockfile pins, if one is current."""
        from envdoctor.lock import pins
        from envdoctor.stub.kept import load_kept
        from envdoctor.stub.wheel import build_wheel

        version = next((p.split("==", 1)[1] for p in pins(lockfile) if p.startswith("mmcv-lite==")), None)
        kept = load_kept(version) if version else None
        return build_wheel(kept, self.work / "stub") if kept is not None else None

    def do_stub(self, step: Step) -> str:
        from envdoctor import stub

        if self.stub_with_pins:
            # Installed with the pins from the kept stub, which equals a generation from this mmcv-lite.
            # Confirm on disk; anything else falls through to a generation from the target's own mmcv.
            state = stub.status(self.target)
            if state.ext_state == "stub" and state.header.get("mmcv") == state.mmcv_version:
                return f"stub for mmcv {state.mmcv_version} in place (installed with the pins)"
        result = stub.install(self.target, uv=self.uv)
        return f"stub {result.action}"

    def do_unstub(self, step: Step) -> str:
        from envdoctor import stub

        stub.remove(self.target, uv=self.uv)
        return "stub removed"

    def do_dwpose(self, step: Step) -> str:
        from envdoctor import dwpose

        # A lasting folder, so the snapshot of a later run can reinstall this exact wheel.
        wheel = dwpose.build_wheel(self.cache / "wheelhouse" / "dwpose")
        # The wheel keeps its version while its content follows envdoctor: make uv take this build.
        self.uv.pip_install(
            self.py,
            dwpose.requirements(wheel),
            extra=["--no-deps", "--reinstall-package", dwpose.DIST_NAME],
        )
        return f"installed {wheel.name}"

    def do_build_mmcv(self, step: Step) -> str:
        from envdoctor import build

        return build.run_step(step, self.uv, self.py, self.work)


def _local_torch(torch: Indexes | None) -> list[str]:
    """`name==version` of the torch/torchvision wheels in find-links folders, when no torch index is given."""
    if torch is None or torch.extra_index_urls or not torch.find_links:
        return []
    from packaging.utils import parse_wheel_filename

    found: dict[str, str] = {}
    for folder in torch.find_links:
        for whl in sorted(Path(folder).glob("torch*.whl")):
            name, version, _b, _t = parse_wheel_filename(whl.name)
            if name in HELD:
                found.setdefault(str(name), str(version))
    return [f"{n}=={v}" for n, v in found.items()]


def _held_lines(freeze: list[str] | tuple[str, ...]) -> dict[str, str]:
    out = {}
    for line in freeze:
        name = line.split("==")[0].split(" @ ")[0].strip().lower()
        if name in HELD:
            out[name] = line
    return out


def restore(
    target: Target, snapshot: tuple[str, ...], *, uv: Uv, sources: Sources, work: Path, progress: Progress
) -> tuple[bool, tuple[str, ...], str]:
    """Sync the target back to `snapshot`: from uv's cache first (works with no network), then online.

    Returns (equal, freeze after, what happened).
    """
    snap = _write(work, "snapshot.txt", snapshot)
    build = _write(work, "restore-build-constraints.txt", [c.requirement for c in _build_rows()])
    extra = ["--build-constraints", str(build), "--allow-empty-requirements"]
    attempts = (
        ("uv's cache (offline)", Indexes(), True),
        ("the indexes given", sources.indexes, False),
        ("PyPI", Indexes(), False),
    )
    notes = []
    for label, idx, offline in attempts:
        try:
            uv.pip_sync(target.python, [snap], indexes=idx, extra=extra, offline=offline)
            notes.append(f"restored from {label}")
            break
        except UvError as exc:
            notes.append(f"restore from {label} failed: {_describe(exc)}")
            progress(f"   {notes[-1]}")
    after = tuple(uv.pip_freeze(target.python))
    return after == tuple(snapshot), after, "; ".join(notes)


def _build_rows() -> tuple[Any, ...]:
    from envdoctor.strategies.sets import constraints

    return tuple(c for c in constraints() if c.build)


def apply(
    plan: Plan,
    *,
    uv: Uv | None = None,
    sources: Sources | None = None,
    progress: Progress | None = None,
    verifier: Verifier = check_verifier,
    keep_snapshot: Path | None = None,
    cache: Path = DEFAULT_CACHE,
) -> ApplyResult:
    """Apply `plan`; on any failure put the environment back exactly as it was."""
    if plan.refusal:
        return ApplyResult(False, plan.refusal, (), (), ())
    if not plan.chosen:
        return ApplyResult(False, "no strategy works for this target: see the reasons in the plan", (), (), ())
    uv = uv or find_uv()
    sources = sources or Sources()
    say = progress or (lambda _m: None)
    target = plan.target
    allow_torch = plan.context.options.allow_torch_change
    outcomes: list[StepOutcome] = []
    with tempfile.TemporaryDirectory(prefix="envdoctor-fix-") as tmp:
        work = Path(tmp)
        snapshot = tuple(uv.pip_freeze(target.python))
        snap_file = keep_snapshot or (cache / "snapshots" / f"{time.strftime('%Y%m%d-%H%M%S')}.txt")
        snap_file.parent.mkdir(parents=True, exist_ok=True)
        snap_file.write_text("\n".join(snapshot) + "\n")
        say(f"snapshot: {len(snapshot)} packages saved to {snap_file}")
        runner = _Runner(plan, uv, sources, work, cache)
        verification: Verification | None = None
        failure: str | None = None
        work_steps = [s for s in plan.steps if s.kind != "verify"]
        for i, step in enumerate(work_steps, 1):
            say(f"[{i}/{len(work_steps)}] {step.summary}")
            stop = _ticker(say, step.kind) if step.long else (lambda: None)
            t0 = time.monotonic()
            try:
                message = runner.run(step)
                held_now = _held_lines(uv.pip_freeze(target.python))
                held_before = _held_lines(snapshot)
                moved = [
                    f"{n}: {held_before.get(n, 'absent')} -> {held_now.get(n, 'absent')}"
                    for n in HELD
                    if n in held_before and held_before.get(n) != held_now.get(n)
                ]
                if moved and not allow_torch:
                    raise StepFailed("torch is held but moved (" + "; ".join(moved) + ")")
            except Exception as exc:  # every failure of a step ends in the rollback below
                stop()
                failure = f"step {i} of {len(work_steps)} ({step.kind}) failed: {_describe(exc)}"
                outcomes.append(StepOutcome(step, False, time.monotonic() - t0, _describe(exc)))
                break
            stop()
            outcomes.append(StepOutcome(step, True, time.monotonic() - t0, message))
            say(f"   done in {time.monotonic() - t0:.1f} s: {message}")
        if failure is None:
            say("verifying: envdoctor check on the target")
            t0 = time.monotonic()
            verify_step = next((s for s in plan.steps if s.kind == "verify"), None)
            try:
                verification = verifier(target, plan)
            except Exception as exc:  # a crashing check is a failed verification, not a crash of fix
                verification = Verification(2, "envdoctor check", (_describe(exc),))
            if verify_step is not None:
                outcomes.append(
                    StepOutcome(verify_step, verification.exit_code == 0, time.monotonic() - t0, verification.source)
                )
            if verification.exit_code != 0:
                failure = "the check is still red after the changes: " + "; ".join(verification.failures[:8])
        if failure is None:
            after = tuple(uv.pip_freeze(target.python))
            return ApplyResult(
                True,
                f"{plan.chosen}: applied and verified ({verification.source if verification else 'no check'} "
                "exits 0)",
                tuple(outcomes),
                snapshot,
                after,
                verification=verification,
                snapshot_file=str(snap_file),
            )
        say("rolling back to the snapshot")
        equal, after, how = restore(target, snapshot, uv=uv, sources=sources, work=work, progress=say)
        if equal:
            message = f"{failure}. The environment was restored exactly to the snapshot ({how})."
        else:
            diff = sorted(set(snapshot) ^ set(after))
            message = (
                f"{failure}. The rollback did NOT restore the snapshot exactly ({how}); differing lines: "
                + ", ".join(diff[:12])
                + f". The snapshot is in {snap_file}: `uv pip sync --python {target.python} {snap_file}`."
            )
        return ApplyResult(
            False,
            message,
            tuple(outcomes),
            snapshot,
            after,
            rolled_back=True,
            restored=equal,
            verification=verification,
            snapshot_file=str(snap_file),
        )
