"""A fix as a transaction: lock, journal, keep, steps, verify, and roll back on failure or interruption.

    lock the environment (wait, or refuse with --no-wait)
    refuse if an earlier fix did not finish (fix --rollback / --resume finish it)
    snapshot: `uv pip freeze` and every installed file kept (keep.py), then the journal
    each step of the plan, exactly as planned, by its type's handler (handlers.py), the journal updated as
    it begins; torch checked after each when held
    verify with the check, judged by what fix owns (verification.py)
    done: drop the journal and the kept files; failed or interrupted: restore exactly, verify hashes

On SIGINT or SIGTERM every running uv is stopped with its process group at once (uv.stop_all), and the
transaction rolls back at the next step boundary; further signals during the rollback are only noted. The
journal goes only when the files are back. After SIGKILL the journal stays; `rollback()` finishes it.
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

from envdoctor import uv as uv_mod
from envdoctor.apply import keep
from envdoctor.apply.handlers import StepContext, StepFailed, StepStatus, run
from envdoctor.apply.results import ApplyResult, FixVerification, StepOutcome
from envdoctor.apply.verification import Baseline, Judgement, Verifier, baseline, check_verifier, judge
from envdoctor.cachedir import cache_root
from envdoctor.envstate.guard import locked, state_dir
from envdoctor.envstate.journal import Journal, read, unfinished
from envdoctor.explain import explain_text
from envdoctor.plan import Plan
from envdoctor.steps import Verify
from envdoctor.strategies.common import HELD
from envdoctor.target import Target
from envdoctor.uv import Uv, UvError, find_uv

Progress = Callable[[str], None]
TICK_SECONDS = 20.0


class Signals:
    """SIGINT/SIGTERM during a fix, recorded rather than raised.

    The handler notes the signal and stops every running uv with its process group (uv.stop_all); the
    transaction looks at `received` between steps and after each, so an interruption always lands at a known
    point, never half-way through starting a process or writing the journal.
    """

    def __init__(self) -> None:
        self.received: str | None = None
        self.stop_uv = True
        """False while rolling back: the rollback's own uv runs must finish."""

    def handler(self, signum: int, _frame: FrameType | None) -> None:
        self.received = self.received or signal.Signals(signum).name
        if self.stop_uv:
            uv_mod.stop_all()

    @contextmanager
    def installed(self) -> Iterator[Signals]:
        """Handle SIGINT/SIGTERM while the block runs (main thread only; elsewhere they stay as they are)."""
        if threading.current_thread() is not threading.main_thread():
            yield self
            return
        old = {s: signal.signal(s, self.handler) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield self
        finally:
            for s, h in old.items():
                signal.signal(s, h)
            uv_mod.resume_runs()

    @contextmanager
    def rolling_back(self) -> Iterator[None]:
        """While rolling back a signal is only noted: the rollback is what leaves the environment as it was."""
        self.stop_uv = False
        uv_mod.resume_runs()
        try:
            yield
        finally:
            self.stop_uv = True


def describe(exc: BaseException) -> str:
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


def explained(exc: BaseException, values: dict[str, str]) -> str:
    """A failed step in the catalog's words (the same answer `envdoctor explain` gives for its output)."""
    text = exc.stderr if isinstance(exc, UvError) else f"{type(exc).__name__}: {exc}"
    root = explain_text(text, values).root
    if root is None or not root.environment:
        return ""
    return f" Cause: {root.cause} Fix: {root.fix}"


def _ticker(say: Progress, label: str, status: StepStatus) -> Callable[[], None]:
    """Prints 'still working' every TICK_SECONDS, with what the step says of its progress, until the
    returned stop() is called."""
    stop = threading.Event()
    t0 = time.monotonic()

    def run() -> None:
        while not stop.wait(TICK_SECONDS):
            detail = f", {status.text}" if status.text else ""
            say(f"   ... {label}: {time.monotonic() - t0:.0f} s{detail}")

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
    progress: Progress | None = None,
    verifier: Verifier = check_verifier,
    keep_snapshot: Path | None = None,
    cache: Path | None = None,
    wait: bool = True,
    notices: tuple[str, ...] = (),
    before: Baseline = baseline,
) -> ApplyResult:
    """Apply `plan` as a transaction; on a failure or SIGINT/SIGTERM put the environment back exactly.

    The steps run are the plan's, as they are: every decision (indexes, the kept stub, lock or resolve) was
    made when the plan was built and is shown by `envdoctor plan`."""
    if plan.refusal:
        return ApplyResult(False, plan.refusal, (), (), ())
    if not plan.chosen:
        return ApplyResult(False, "no strategy works for this target: see the reasons in the plan", (), (), ())
    uv = uv or find_uv()
    say = progress or (lambda _m: None)
    for notice in plan.fallbacks:
        say(f"notice: {notice}")
    with locked(plan.target.prefix, "fix", wait=wait, say=say):
        refusal = unfinished_refusal(plan.target)
        if refusal:
            return ApplyResult(False, refusal, (), (), ())
        # Read now, not at import: ENVDOCTOR_CACHE_DIR set after envdoctor was imported still counts.
        return _run(plan, uv, say, verifier, before, keep_snapshot, cache or cache_root(),
                    (*notices, *plan.fallbacks))  # fmt: skip


def _steps(
    plan: Plan, ctx: StepContext, journal: Journal, snapshot: tuple[str, ...], say: Progress, sig: Signals
) -> tuple[list[StepOutcome], str | None]:
    """Each step of the plan by its handler, the journal updated as it begins; stops at the first failure or
    signal."""
    work_steps = plan.work_steps
    n = len(work_steps)
    outcomes: list[StepOutcome] = []
    for i, step in enumerate(work_steps, 1):
        if sig.received:
            return outcomes, f"interrupted by {sig.received} after step {i - 1} of {n}"
        journal.update(step=i)
        say(f"[{i}/{n}] {step.summary}")
        ctx.status.set("")
        stop = _ticker(say, step.kind, ctx.status) if step.long else (lambda: None)
        t0 = time.monotonic()
        try:
            message = run(ctx, step)
            moved = _torch_moved(snapshot, ctx.uv.pip_freeze(ctx.python))
            if moved and not plan.context.options.allow_torch_change:
                raise StepFailed("torch is held but moved (" + "; ".join(moved) + ")")
        except Exception as exc:  # every failure of a step ends in the rollback
            stop()
            failure = describe(exc) + ("" if sig.received else explained(exc, dict(plan.context.installed)))
            outcomes.append(StepOutcome(step, False, time.monotonic() - t0, failure))
            if sig.received:
                return outcomes, f"interrupted by {sig.received} during step {i} of {n} ({step.kind})"
            return outcomes, f"step {i} of {n} ({step.kind}) failed: {failure}"
        stop()
        outcomes.append(StepOutcome(step, True, time.monotonic() - t0, message))
        say(f"   done in {time.monotonic() - t0:.1f} s: {message}")
    if sig.received:
        return outcomes, f"interrupted by {sig.received} after step {n} of {n}"
    return outcomes, None


def _verify(
    plan: Plan, verifier: Verifier, failing_before: frozenset[str], say: Progress
) -> tuple[list[StepOutcome], FixVerification, Judgement]:
    say("verifying: envdoctor check on the target")
    t0 = time.monotonic()
    try:
        verification = verifier(plan.target, plan)
    except Exception as exc:  # a crashing check is a failed verification, not a crash of fix
        verification = FixVerification(2, "envdoctor check", (describe(exc),))
    step = plan.first(Verify)
    outcomes = [] if step is None else [
        StepOutcome(step, verification.exit_code == 0, time.monotonic() - t0, verification.source)
    ]  # fmt: skip
    return outcomes, verification, judge(verification, failing_before)


def _run(
    plan: Plan, uv: Uv, say: Progress, verifier: Verifier, before: Baseline,
    keep_snapshot: Path | None, cache: Path, notices: tuple[str, ...],
) -> ApplyResult:  # fmt: skip
    target = plan.target
    n_steps = len(plan.work_steps)
    verification: FixVerification | None = None
    left: tuple[str, ...] = ()
    snap_file = keep_snapshot or (cache / "snapshots" / f"{time.strftime('%Y%m%d-%H%M%S')}.txt")
    with tempfile.TemporaryDirectory(prefix="envdoctor-fix-") as tmp, Signals().installed() as sig:
        failing_before = before(target)
        snapshot = tuple(uv.pip_freeze(target.python))
        snap_file.parent.mkdir(parents=True, exist_ok=True)
        snap_file.write_text("\n".join(snapshot) + "\n")
        t0 = time.monotonic()
        kept = keep.keep(target, state_dir(target.prefix) / "keep")
        if sig.received:
            keep.discard(kept)
            return ApplyResult(False, f"interrupted by {sig.received} before the first change; nothing was changed",
                               (), snapshot, snapshot)  # fmt: skip
        journal = Journal.begin(
            target.prefix, chosen=plan.chosen, steps=[s.kind for s in plan.work_steps],
            snapshot=list(snapshot), snapshot_file=str(snap_file), kept=kept.to_dict(), plan=plan.to_dict(),
        )  # fmt: skip
        say(
            f"snapshot: {len(snapshot)} packages saved to {snap_file}; {kept.files} files kept "
            f"({'linked' if kept.linked else 'copied'}) in {time.monotonic() - t0:.1f} s"
        )
        outcomes, failure = _steps(plan, StepContext(plan, uv, Path(tmp), cache), journal, snapshot, say, sig)
        if failure is None:
            journal.update(step=n_steps + 1)
            checked, verification, verdict = _verify(plan, verifier, failing_before, say)
            outcomes += checked
            left = verdict.left_for_you
            if sig.received:
                failure = f"interrupted by {sig.received} during the verification"
            elif verdict.roll_back:
                failure = "the check is still red after the changes: " + "; ".join(verdict.reasons[:8])
        if failure is None:
            assert verification is not None
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
        say("rolling back to the snapshot")
        with sig.rolling_back():
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
        with Signals().installed() as sig, sig.rolling_back():
            journal.update(state="rolling-back")
            exact, after, how = _restore(target, kept, snapshot, uv, say)
            if exact:
                journal.end()
                keep.discard(kept)
        failure = f"the unfinished fix ({journal.data.get('chosen')}) was rolled back"
        message = _rollback_message(failure, exact, how, snapshot, after, snap_file, target)
        return ApplyResult(exact, message, (), snapshot, after, rolled_back=True, restored=exact)
