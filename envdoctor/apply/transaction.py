"""A fix as a transaction: lock, journal, keep, steps, verify, and roll back on failure or interruption.

    lock the environment (wait, or refuse with --no-wait)
    refuse if an earlier fix did not finish (fix --rollback / --resume finish it)
    snapshot: `uv pip freeze` and every installed file kept (keep.py), then the journal
    each step from HANDLERS, the journal updated as it begins; torch checked after each when held
    verify with the check, judged by what fix owns (verification.py)
    done: drop the journal and the kept files; failed or interrupted: restore exactly, verify hashes

SIGINT and SIGTERM become `Interrupted` in the main thread: uv's process group is stopped (uv.py), the
rollback runs with further signals held off, and the journal goes only when the files are back. After
SIGKILL the journal stays; `rollback()` finishes it.
"""

from __future__ import annotations

import signal
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType

from envdoctor.apply import keep
from envdoctor.apply.envlock import locked, state_dir
from envdoctor.apply.journal import Journal, read
from envdoctor.apply.preflight import prepare
from envdoctor.apply.request import Sources
from envdoctor.apply.results import ApplyResult, StepOutcome, Verification
from envdoctor.apply.steps import HANDLERS, StepContext, StepFailed
from envdoctor.apply.verification import Baseline, Verifier, baseline, check_verifier, judge
from envdoctor.plan import Plan
from envdoctor.strategies.common import HELD
from envdoctor.target import Target
from envdoctor.uv import Uv, UvError, find_uv

Progress = Callable[[str], None]
TICK_SECONDS = 20.0
DEFAULT_CACHE = Path.home() / ".cache" / "envdoctor"


class Interrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM arrived during a fix (a KeyboardInterrupt: no `except Exception` swallows it)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signame = signal.Signals(signum).name


@contextmanager
def _signals_raise() -> Iterator[None]:
    """SIGINT/SIGTERM raise Interrupted while the block runs (main thread only; elsewhere a no-op)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, _frame: FrameType | None) -> None:
        raise Interrupted(signum)

    old = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)


@contextmanager
def _signals_held(say: Progress) -> Iterator[None]:
    """While rolling back, SIGINT/SIGTERM only say that the rollback goes on (SIGKILL leaves the journal)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, _frame: FrameType | None) -> None:
        say(f"   {signal.Signals(signum).name}: the rollback continues (it leaves the environment as it was)")

    old = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)


def describe(exc: BaseException) -> str:
    if isinstance(exc, Interrupted):
        return f"interrupted by {exc.signame}"
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


def _ticker(say: Progress, label: str) -> Callable[[], None]:
    """Prints 'still working' every TICK_SECONDS until the returned stop() is called."""
    stop = threading.Event()
    t0 = time.monotonic()

    def run() -> None:
        while not stop.wait(TICK_SECONDS):
            say(f"   ... {label}: {time.monotonic() - t0:.0f} s")

    thread = threading.Thread(target=run, daemon=True)
    thread.start()

    def finish() -> None:
        stop.set()
        thread.join()

    return finish


def _held(freeze: list[str] | tuple[str, ...]) -> dict[str, str]:
    out = {}
    for line in freeze:
        name = line.split("==")[0].split(" @ ")[0].strip().lower()
        if name in HELD:
            out[name] = line
    return out


def _torch_moved(snapshot: tuple[str, ...], now: list[str]) -> list[str]:
    before, after = _held(snapshot), _held(now)
    return [f"{n}: {before[n]} -> {after.get(n, 'absent')}" for n in HELD if n in before and before[n] != after.get(n)]


def unfinished_refusal(target: Target) -> str | None:
    journal = read(target.prefix)
    if journal is None:
        return None
    from envdoctor.apply.journal import unfinished

    state = unfinished(target.prefix)
    return state.sentence() if state else None


def _restore(
    target: Target, kept: keep.Kept, snapshot: tuple[str, ...], uv: Uv, say: Progress
) -> tuple[bool, tuple[str, ...], str]:
    """Put the kept files back and check them; (exact, freeze after, what happened)."""
    try:
        done = keep.restore(kept, uv, target.python)
    except (OSError, UvError, ValueError) as exc:
        after = tuple(uv.pip_freeze(target.python))
        return False, after, f"the restore from the kept files failed: {describe(exc)}"
    after = tuple(uv.pip_freeze(target.python))
    how = done.note
    if done.mismatches:
        how += f"; {len(done.mismatches)} file(s) differ from their RECORD hash: " + ", ".join(done.mismatches[:5])
    elif done.changed:
        how += ", every RECORD hash verified"
    return done.exact and after == snapshot, after, how


def _rollback_message(failure: str, exact: bool, how: str, snapshot: tuple[str, ...], after: tuple[str, ...],
                      snap_file: Path, target: Target) -> str:  # fmt: skip
    if exact:
        return f"{failure}. The environment was restored exactly to the snapshot ({how})."
    diff = sorted(set(snapshot) ^ set(after))
    return (
        f"{failure}. The rollback did NOT restore the snapshot exactly ({how})"
        + (f"; differing lines: {', '.join(diff[:12])}" if diff else "")
        + f". The kept files stay in {state_dir(target.prefix)} (`envdoctor fix --rollback` tries again); "
        f"the package list is in {snap_file}."
    )


def apply(
    plan: Plan,
    *,
    uv: Uv | None = None,
    sources: Sources | None = None,
    progress: Progress | None = None,
    verifier: Verifier = check_verifier,
    keep_snapshot: Path | None = None,
    cache: Path = DEFAULT_CACHE,
    wait: bool = True,
    notices: tuple[str, ...] = (),
    before: Baseline = baseline,
) -> ApplyResult:
    """Apply `plan` as a transaction; on a failure or SIGINT/SIGTERM put the environment back exactly."""
    if plan.refusal:
        return ApplyResult(False, plan.refusal, (), (), ())
    if not plan.chosen:
        return ApplyResult(False, "no strategy works for this target: see the reasons in the plan", (), (), ())
    uv = uv or find_uv()
    say = progress or (lambda _m: None)
    prepared = prepare(plan, sources or Sources())
    if prepared.refusal:
        return ApplyResult(False, prepared.refusal, (), (), ())
    for notice in prepared.notices:
        say(f"notice: {notice}")
    with locked(plan.target.prefix, "fix", wait=wait, say=say):
        refusal = unfinished_refusal(plan.target)
        if refusal:
            return ApplyResult(False, refusal, (), (), ())
        return _run(plan, uv, prepared.sources, say, verifier, before, keep_snapshot, cache,
                    (*notices, *prepared.notices))  # fmt: skip


def _run(
    plan: Plan, uv: Uv, sources: Sources, say: Progress, verifier: Verifier, before: Baseline,
    keep_snapshot: Path | None,
    cache: Path, notices: tuple[str, ...],
) -> ApplyResult:  # fmt: skip
    target = plan.target
    allow_torch = plan.context.options.allow_torch_change
    work_steps = [s for s in plan.steps if s.kind != "verify"]
    outcomes: list[StepOutcome] = []
    verification: Verification | None = None
    failure: str | None = None
    left: tuple[str, ...] = ()
    with tempfile.TemporaryDirectory(prefix="envdoctor-fix-") as tmp, _signals_raise():
        journal: Journal | None = None
        kept: keep.Kept | None = None
        snapshot: tuple[str, ...] = ()
        snap_file = keep_snapshot or (cache / "snapshots" / f"{time.strftime('%Y%m%d-%H%M%S')}.txt")
        try:
            failing_before = before(target)
            snapshot = tuple(uv.pip_freeze(target.python))
            snap_file.parent.mkdir(parents=True, exist_ok=True)
            snap_file.write_text("\n".join(snapshot) + "\n")
            t0 = time.monotonic()
            kept = keep.keep(target, state_dir(target.prefix) / "keep")
            journal = Journal.begin(
                target.prefix, chosen=plan.chosen, steps=[s.kind for s in work_steps], snapshot=list(snapshot),
                snapshot_file=str(snap_file), kept=kept.to_dict(), plan=plan.to_dict(),
            )  # fmt: skip
            say(
                f"snapshot: {len(snapshot)} packages saved to {snap_file}; {kept.files} files kept "
                f"({'linked' if kept.linked else 'copied'}) in {time.monotonic() - t0:.1f} s"
            )
            ctx = StepContext(plan, uv, sources, Path(tmp), cache)
            for i, step in enumerate(work_steps, 1):
                journal.update(step=i)
                say(f"[{i}/{len(work_steps)}] {step.summary}")
                stop = _ticker(say, step.kind) if step.long else (lambda: None)
                t0 = time.monotonic()
                try:
                    message = HANDLERS[step.kind](ctx, step)
                    moved = _torch_moved(snapshot, uv.pip_freeze(target.python))
                    if moved and not allow_torch:
                        raise StepFailed("torch is held but moved (" + "; ".join(moved) + ")")
                except (Exception, Interrupted) as exc:  # every failure of a step ends in the rollback below
                    stop()
                    failure = f"step {i} of {len(work_steps)} ({step.kind}) failed: {describe(exc)}"
                    if isinstance(exc, Interrupted):
                        failure = f"{describe(exc)} during step {i} of {len(work_steps)} ({step.kind})"
                    outcomes.append(StepOutcome(step, False, time.monotonic() - t0, describe(exc)))
                    break
                stop()
                outcomes.append(StepOutcome(step, True, time.monotonic() - t0, message))
                say(f"   done in {time.monotonic() - t0:.1f} s: {message}")
            if failure is None:
                journal.update(step=len(work_steps) + 1)
                say("verifying: envdoctor check on the target")
                t0 = time.monotonic()
                try:
                    verification = verifier(target, plan)
                except Exception as exc:  # a crashing check is a failed verification, not a crash of fix
                    verification = Verification(2, "envdoctor check", (describe(exc),))
                verify_step = next((s for s in plan.steps if s.kind == "verify"), None)
                if verify_step is not None:
                    outcomes.append(
                        StepOutcome(verify_step, verification.exit_code == 0, time.monotonic() - t0,
                                    verification.source)  # fmt: skip
                    )
                verdict = judge(verification, failing_before)
                left = verdict.left_for_you
                if verdict.roll_back:
                    failure = "the check is still red after the changes: " + "; ".join(verdict.reasons[:8])
        except Interrupted as exc:
            reached = int(journal.data.get("step", 0)) if journal is not None else 0
            failure = f"{describe(exc)} " + (
                "before the first step" if not reached
                else "during the verification" if reached > len(work_steps)
                else f"after step {reached} of {len(work_steps)}"
            )  # fmt: skip
        if failure is None:
            assert journal is not None and kept is not None and verification is not None
            journal.end()
            keep.discard(kept)
            after = tuple(uv.pip_freeze(target.python))
            message = f"{plan.chosen}: applied and verified ({verification.source} exits 0)"
            if left:
                message = (
                    f"{plan.chosen}: applied; everything fix manages passes, and the environment is kept. "
                    f"Left for you ({len(left)}): " + "; ".join(left)
                )
            return ApplyResult(
                not left, message, tuple(outcomes), snapshot, after, verification=verification,
                snapshot_file=str(snap_file), left_for_you=left, notices=notices,
            )  # fmt: skip
        if kept is None or journal is None:  # stopped before anything could change
            if kept is not None:
                keep.discard(kept)
            return ApplyResult(False, f"{failure}; nothing was changed", tuple(outcomes), snapshot, snapshot)
        say("rolling back to the snapshot")
        with _signals_held(say):
            journal.update(state="rolling-back")
            exact, after, how = _restore(target, kept, snapshot, uv, say)
            if exact:
                journal.end()
                keep.discard(kept)
        return ApplyResult(
            False, _rollback_message(failure, exact, how, snapshot, after, snap_file, target), tuple(outcomes),
            snapshot, after, rolled_back=True, restored=exact, verification=verification,
            snapshot_file=str(snap_file), notices=notices,
        )  # fmt: skip


def rollback(target: Target, *, uv: Uv | None = None, progress: Progress | None = None,
             wait: bool = True) -> ApplyResult:  # fmt: skip
    """Finish an unfinished fix: put the environment back exactly to the snapshot in its journal."""
    uv = uv or find_uv()
    say = progress or (lambda _m: None)
    with locked(target.prefix, "fix --rollback", wait=wait, say=say):
        journal = read(target.prefix)
        if journal is None:
            return ApplyResult(True, "no unfinished fix in this environment: nothing to roll back", (), (), ())
        if "kept" not in journal.data:
            return ApplyResult(False, f"the journal {journal.path} cannot be read; remove it by hand", (), (), ())
        kept = keep.Kept.from_dict(journal.data["kept"])
        snapshot = tuple(journal.data.get("snapshot", ()))
        snap_file = Path(str(journal.data.get("snapshot_file", "")))
        say(f"rolling back the unfinished fix ({journal.data.get('chosen')}, started {journal.data.get('started')})")
        with _signals_held(say):
            journal.update(state="rolling-back")
            exact, after, how = _restore(target, kept, snapshot, uv, say)
            if exact:
                journal.end()
                keep.discard(kept)
        failure = f"the unfinished fix ({journal.data.get('chosen')}) was rolled back"
        message = _rollback_message(failure, exact, how, snapshot, after, snap_file, target)
        return ApplyResult(exact, message, (), snapshot, after, rolled_back=True, restored=exact)
