"""Rank the strategies for one target and build the plan: ordered steps, printable and as JSON.

Nothing here changes the target. `envdoctor plan` prints what `build()` returns; `envdoctor fix`
applies it (envdoctor/apply.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from envdoctor import lock, probe
from envdoctor.document import head
from envdoctor.facts import Facts
from envdoctor.strategies import ALL, CHOSEN, POSSIBLE, Context, Options, Step, Verdict, by_name
from envdoctor.strategies.base import REJECTED, Strategy
from envdoctor.strategies.common import held
from envdoctor.strategies.sets import RequirementSet, active_constraints, excludes, pick_set
from envdoctor.target import Target

__all__ = ["Options", "Plan", "build", "make", "rank"]

SCHEMA = "envdoctor.plan"
# torch facts come from importing torch in the target: the accelerator is read from torch itself.
PLAN_MODULES = ("torch",)


@dataclass(frozen=True)
class Plan:
    target: Target
    context: Context
    requirement_set: RequirementSet | None
    verdicts: tuple[Verdict, ...]
    """Every strategy, chosen first, then the others by rank."""
    chosen: str | None
    steps: tuple[Step, ...]
    notes: tuple[str, ...]
    """Things said out loud: what is held, what is left out and why, which constraints apply."""
    refusal: str | None = None
    """Why envdoctor will not change this target at all (PEP 668), with the advice."""

    @property
    def ok(self) -> bool:
        return self.chosen is not None and self.refusal is None

    def to_dict(self) -> dict[str, Any]:
        ctx = self.context
        return {
            **head(SCHEMA),
            "target": self.target.to_dict(),
            "facts": {
                "python": ctx.python_version,
                "python_tag": ctx.python_tag,
                "os": ctx.os,
                "machine": ctx.machine,
                "torch": str(ctx.torch) if ctx.torch else None,
                "torchvision": str(ctx.torchvision) if ctx.torchvision else None,
                "accelerator": ctx.accelerator,
                "gpus": [{"name": n, "capability": c} for n, c in ctx.gpus],
                "nvcc": ctx.nvcc,
                "mmcv_ext": ctx.ext_state,
                "externally_managed": ctx.externally_managed,
            },
            "requirement_set": self.requirement_set.name if self.requirement_set else None,
            "chosen": self.chosen,
            "refusal": self.refusal,
            "strategies": [v.to_dict() for v in self.verdicts],
            "steps": [s.to_dict() for s in self.steps],
            "notes": list(self.notes),
        }


def rank(ctx: Context) -> tuple[tuple[Verdict, ...], str | None]:
    """Judge every strategy; the best viable one (or the one forced with --strategy) is chosen."""
    judged = [(s, _lockfile_gate(s, ctx, s.judge(ctx))) for s in ALL]
    viable = [s for s, v in judged if v.viable]
    if ctx.options.strategy:
        by_name(ctx.options.strategy)  # KeyError for an unknown name, turned into a usage error by the caller
        viable = [s for s in viable if s.name == ctx.options.strategy]
    chosen = viable[0].name if viable else None
    out = []
    for s, v in judged:
        if s.name == chosen:
            out.append(replace(v, status=CHOSEN))
        elif v.status == POSSIBLE:
            asked = ctx.options.strategy
            why = f"--strategy {asked} was asked for" if asked else f"{chosen} ranks higher"
            out.append(replace(v, reasons=(*v.reasons, f"not chosen: {why}")))
        else:
            out.append(v)
    out.sort(key=lambda v: (v.status != CHOSEN, by_name(v.strategy).rank))
    return tuple(out), chosen


def _lockfile_gate(strategy: Strategy, ctx: Context, verdict: Verdict) -> Verdict:
    """The wheel gate before anything changes: a lockfile this strategy would install must have a wheel
    for every pin on this interpreter and platform (or name the source build); a matrix cell that
    `envdoctor-maint lock` left out is said aloud."""
    if not verdict.viable:
        return verdict
    try:
        steps = strategy.steps(ctx)
    except (AssertionError, ValueError, KeyError):  # build() calls steps() again and reports it there
        return verdict
    step = next((s for s in steps if s.kind in ("install", "install-lock")), None)
    if step is None:
        return verdict
    if step.kind == "install-lock" and step.lockfile:
        gate = lock.gate_for(Path(step.lockfile), ctx.python_series, ctx.os, ctx.machine)
        if gate is not None and not gate.ok:
            why = f"the lockfile {Path(step.lockfile).name} fails the wheel gate: {gate.message()}"
            return replace(verdict, status=REJECTED, reasons=(why, *verdict.reasons))
        return verdict
    rset = pick_set(ctx.torch, ctx.python_version)
    left_out = rset and lock.left_out(
        strategy.name, rset.name, ctx.python_series, ctx.accelerator or "cpu", ctx.os, ctx.machine
    )
    if left_out:
        return replace(verdict, reasons=(*verdict.reasons, left_out))
    return verdict


def _notes(ctx: Context, rset: RequirementSet | None, steps: tuple[Step, ...]) -> tuple[str, ...]:
    notes: list[str] = []
    if held(ctx):
        if ctx.torch:
            held_now = (
                f"torch {ctx.torch} and torchvision {ctx.torchvision} stay"
                if ctx.torchvision
                else (f"torch {ctx.torch} stays")
            )
            notes.append(f"{held_now} as they are (--allow-torch-change to let uv move them)")
        tv_step = next((s for s in steps if s.kind == "torchvision"), None)
        if ctx.torch and not ctx.torchvision and tv_step is not None:
            notes.append(
                f"torchvision is not installed: the release made for torch {ctx.torch} comes from {tv_step.index_url} "
                "(mmpose declares it; MuseTalk and mmcv's ops need it); fix refuses before any change if that "
                "index cannot be reached"
            )
        elif ctx.torch and not ctx.torchvision:
            notes.append(
                "torchvision is not installed and stays out (mmpose declares it; MuseTalk and mmcv's ops need it): "
                f"install the torchvision release made for torch {ctx.torch_series} from the same torch index"
            )
    else:
        notes.append("--allow-torch-change: uv may replace torch and torchvision")
    if rset:
        notes.append(f"requirement set '{rset.name}': {rset.description}")
        for name, why in rset.dropped:
            notes.append(f"left out: {name}: {why}")
    for name, why in excludes():
        notes.append(f"left out: {name}: {why}")
    installs = next((s for s in steps if s.kind in ("install", "install-lock")), None)
    if installs is not None:
        for c in active_constraints(ctx.torch, installs.packages or _set_packages(rset), ctx.python_version):
            source = f" (breaker #{c.breaker})" if c.breaker is not None else ""
            note = f"constraint {c.requirement}{source}: {c.why}"
            if note not in notes:  # two rows may hold the same pin for the same reason (numpy 1 and opencv)
                notes.append(note)
        if installs.kind == "install" and not ctx.options.resolve:
            notes.append("no committed lockfile matches this target: uv resolves the set now (said, not silent)")
    return tuple(notes)


def _set_packages(rset: RequirementSet | None) -> tuple[str, ...]:
    return (*rset.requirements, *rset.openmmlab) if rset else ()


def _with_ffmpeg(steps: tuple[Step, ...], facts: Facts) -> tuple[Step, ...]:
    """MuseTalk runs `ffmpeg` by name: when neither the environment's bin nor PATH has a usable one
    (envdoctor.tools.ffmpeg.missing_encoders), fix provides it (PyPI's wheel, no root) just before the
    verifying check."""
    if facts.ffmpeg.usable:
        return steps  # a usable one is there: nothing to plan
    step = Step(
        kind="provide-ffmpeg",
        summary="provide ffmpeg: PyPI's imageio-ffmpeg wheel into the environment, its binary (libx264, AAC) "
        "linked into the environment's bin (no root needed)",
        packages=("imageio-ffmpeg",),
    )
    at = next((i for i, s in enumerate(steps) if s.kind == "verify"), len(steps))
    return (*steps[:at], step, *steps[at:])


def build(target: Target, facts: Facts, options: Options | None = None) -> Plan:
    ctx = Context.from_facts(facts, options)
    rset = pick_set(ctx.torch, ctx.python_version, ctx.os)
    verdicts, chosen = rank(ctx)
    steps = by_name(chosen).steps(ctx) if chosen else ()
    if chosen:
        steps = _with_ffmpeg(steps, facts)
    refusal = None
    if facts.damaged:
        listed = "; ".join(d.describe() for d in facts.damaged[:5]) + ("; ..." if len(facts.damaged) > 5 else "")
        refusal = (
            f"{len(facts.damaged)} installed distribution{'s' if len(facts.damaged) != 1 else ''} in "
            f"{target.python} cannot be read ({listed}): envdoctor will not plan changes over what it could not "
            f"read. Reinstall or remove {'them' if len(facts.damaged) != 1 else 'it'} first "
            f"(`uv pip install --reinstall {facts.damaged[0].name}`), then run envdoctor again"
        )
    elif ctx.externally_managed:
        refusal = (
            f"{target.python} is an externally managed interpreter (PEP 668): envdoctor will not change it. "
            "Make a virtual environment instead: `envdoctor fix --venv .venv --create`"
        )
    return Plan(target, ctx, rset, verdicts, chosen, steps, _notes(ctx, rset, steps), refusal)


def make(
    target: Target,
    options: Options | None = None,
    *,
    progress: Callable[[str], None] | None = None,
    import_timeout: float = probe.DEFAULT_IMPORT_TIMEOUT,
) -> Plan:
    """Probe the target, then build its plan."""
    facts = probe.gather(target, PLAN_MODULES, import_timeout=import_timeout, progress=progress)
    return build(target, facts, options)
