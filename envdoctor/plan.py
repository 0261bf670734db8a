"""Rank the strategies for one target and build the plan: ordered steps, printable and as JSON.

Nothing here changes the target. Every decision `fix` needs is made here, before anything runs: which
strategy, whether the install is a lockfile's pins or a resolve, whether the kept `_ext` stub rides in
the locked install, where torch and torchvision come from (an index that cannot be reached is found
now: said, or the plan is refused). `envdoctor plan` prints what `build()` returns; `envdoctor fix`
runs exactly those steps (envdoctor/apply/).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TypeVar

from packaging.utils import parse_wheel_filename

from envdoctor import lock, probe
from envdoctor.document import head
from envdoctor.facts import Facts
from envdoctor.sources import PYPI, Sources, pytorch_index_root, torch_build, unreachable
from envdoctor.steps import (
    Install,
    InstallLock,
    Installs,
    InstallTorch,
    InstallTorchvision,
    ProvideFfmpeg,
    Step,
    Stub,
    Verify,
    installs_of,
)
from envdoctor.strategies import ALL, Candidate, Context, Options, Rejection, Strategy, StrategyVerdict, by_name
from envdoctor.strategies.common import HELD, held
from envdoctor.strategies.sets import RequirementSet, active_constraints, excludes, pick_set
from envdoctor.stub.kept import load_kept
from envdoctor.target import Target
from envdoctor.uv import Indexes

__all__ = ["Options", "Plan", "build", "make", "rank"]

SCHEMA = "envdoctor.plan"
SCHEMA_VERSION = 2
"""2: steps are typed (a build names its `requirement` and `wheelhouse`, torchvision its `requirement`,
`torch_pin` and `indexes`); the plan carries its `sources`."""
S = TypeVar("S", bound=Step)
# torch facts come from importing torch in the target: the accelerator is read from torch itself.
PLAN_MODULES = ("torch",)


@dataclass(frozen=True)
class Plan:
    target: Target
    context: Context
    requirement_set: RequirementSet | None
    verdicts: tuple[StrategyVerdict, ...]
    """Every strategy, chosen first, then the others by rank."""
    chosen: str | None
    steps: tuple[Step, ...]
    notes: tuple[str, ...]
    """Things said out loud: what is held, what is left out and why, which constraints apply."""
    refusal: str | None = None
    """Why envdoctor will not change this target at all (PEP 668, an index it needs is down), with the advice."""
    sources: Sources = field(default_factory=Sources)

    @property
    def ok(self) -> bool:
        return self.chosen is not None and self.refusal is None

    @property
    def work_steps(self) -> tuple[Step, ...]:
        """The steps that change the target: all but the verification, which fix runs after every change."""
        return tuple(s for s in self.steps if not isinstance(s, Verify))

    def first(self, kind: type[S]) -> S | None:
        return next((s for s in self.steps if isinstance(s, kind)), None)

    @property
    def installs(self) -> Installs | None:
        """The step that installs the requirement set."""
        return installs_of(self.steps)

    @property
    def fallbacks(self) -> tuple[str, ...]:
        """What was said because an index could not be reached (torch from PyPI)."""
        return tuple(s.fallback for s in self.steps if isinstance(s, InstallTorch) and s.fallback)

    def to_dict(self) -> dict[str, Any]:
        ctx = self.context
        return {
            **head(SCHEMA, SCHEMA_VERSION),
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
            "sources": self.sources.to_dict(),
            "strategies": [v.to_dict() for v in self.verdicts],
            "steps": [s.to_dict() for s in self.steps],
            "notes": list(self.notes),
        }


def rank(ctx: Context) -> tuple[tuple[StrategyVerdict, ...], str | None]:
    """Judge every strategy once; the best candidate (or the one forced with --strategy) is chosen."""
    if ctx.options.strategy:
        by_name(ctx.options.strategy)  # KeyError for an unknown name, turned into a usage error by the caller
    judged = [(s, _lockfile_gate(s, ctx, s.judge(ctx))) for s in ALL]
    viable = [s for s, v in judged if isinstance(v, Candidate)]
    if ctx.options.strategy:
        viable = [s for s in viable if s.name == ctx.options.strategy]
    chosen = viable[0].name if viable else None
    out: list[StrategyVerdict] = []
    for s, v in judged:
        if isinstance(v, Candidate) and s.name == chosen:
            out.append(replace(v, chosen=True))
        elif isinstance(v, Candidate):
            asked = ctx.options.strategy
            why = f"--strategy {asked} was asked for" if asked else f"{chosen} ranks higher"
            out.append(replace(v, reasons=(*v.reasons, f"not chosen: {why}")))
        else:
            out.append(v)
    out.sort(key=lambda v: (not (isinstance(v, Candidate) and v.chosen), by_name(v.strategy).rank))
    return tuple(out), chosen


def _lockfile_gate(strategy: Strategy, ctx: Context, verdict: StrategyVerdict) -> StrategyVerdict:
    """The wheel gate before anything changes: a lockfile this strategy would install must have a wheel
    for every pin on this interpreter and platform (or name the source build); a matrix cell that
    `envdoctor-maint lock` left out is said aloud."""
    if not isinstance(verdict, Candidate):
        return verdict
    step = installs_of(verdict.steps)
    if isinstance(step, InstallLock):
        gate = lock.gate_for(Path(step.lockfile), ctx.python_series, ctx.os, ctx.machine)
        if gate is not None and not gate.ok:
            why = f"the lockfile {Path(step.lockfile).name} fails the wheel gate: {gate.message()}"
            return Rejection(verdict.strategy, (why, *verdict.reasons), verdict.summary)
        return verdict
    if step is None:
        return verdict
    rset = pick_set(ctx.torch, ctx.python_version)
    left_out = rset and lock.left_out(
        strategy.name, rset.name, ctx.python_series, ctx.accelerator or "cpu", ctx.os, ctx.machine
    )
    if left_out:
        return replace(verdict, reasons=(*verdict.reasons, left_out))
    return verdict


def _notes(ctx: Context, rset: RequirementSet | None, steps: tuple[Step, ...], chosen: str | None) -> tuple[str, ...]:
    notes: list[str] = [f"notice: {s.fallback}" for s in steps if isinstance(s, InstallTorch) and s.fallback]
    if held(ctx):
        if ctx.torch:
            held_now = (
                f"torch {ctx.torch} and torchvision {ctx.torchvision} stay"
                if ctx.torchvision
                else (f"torch {ctx.torch} stays")
            )
            notes.append(f"{held_now} as they are (--allow-torch-change to let uv move them)")
        tv_step = next((s for s in steps if isinstance(s, InstallTorchvision)), None)
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
    installs = installs_of(steps)
    if installs is not None:
        if isinstance(installs, Install):
            packages = installs.packages
        else:  # the lockfile's pins: the constraints of what the chosen strategy installs
            packages = by_name(chosen).installs(rset) if chosen and rset else ()
        for c in active_constraints(ctx.torch, packages, ctx.python_version):
            source = f" (breaker #{c.breaker})" if c.breaker is not None else ""
            note = f"constraint {c.requirement}{source}: {c.why}"
            if note not in notes:  # two rows may hold the same pin for the same reason (numpy 1 and opencv)
                notes.append(note)
        if isinstance(installs, Install) and not ctx.options.resolve:
            notes.append("no committed lockfile matches this target: uv resolves the set now (said, not silent)")
    return tuple(notes)


def _passed_over_locks(verdicts: tuple[StrategyVerdict, ...], steps: tuple[Step, ...]) -> tuple[str, ...]:
    """A resolve chosen over a strategy that would install a lockfile's pins (a wheel left in the wheelhouse
    makes a higher-ranked strategy viable) is said, with the way to the pins."""
    if not any(isinstance(s, Install) for s in steps):
        return ()
    out = []
    for v in verdicts:
        if isinstance(v, Candidate) and not v.chosen:
            locked = next((s for s in v.steps if isinstance(s, InstallLock)), None)
            if locked is not None:
                out.append(
                    f"this plan resolves with uv now, while {v.strategy} would install the pinned set of "
                    f"{Path(locked.lockfile).name}: `--strategy {v.strategy}` installs those pins"
                )
    return tuple(out)


def _with_ffmpeg(steps: tuple[Step, ...], facts: Facts) -> tuple[Step, ...]:
    """MuseTalk runs `ffmpeg` by name: when neither the environment's bin nor PATH has a usable one
    (envdoctor.tools.ffmpeg.missing_encoders), fix provides it (PyPI's wheel, no root) just before the
    verifying check."""
    if facts.ffmpeg.usable:
        return steps  # a usable one is there: nothing to plan
    step = ProvideFfmpeg(
        summary="provide ffmpeg: PyPI's imageio-ffmpeg wheel into the environment, its binary (libx264, AAC) "
        "linked into the environment's bin (no root needed)",
        packages=("imageio-ffmpeg",),
    )
    at = next((i for i, s in enumerate(steps) if isinstance(s, Verify)), len(steps))
    return (*steps[:at], step, *steps[at:])


def _with_kept_stub(steps: tuple[Step, ...]) -> tuple[Step, ...]:
    """A locked install of mmcv-lite takes the kept `_ext` stub of that version in the same uv transaction,
    when envdoctor has a current one; the stub step then only confirms it. Decided here, shown in the plan."""
    lock_step = next((s for s in steps if isinstance(s, InstallLock)), None)
    if lock_step is None or not any(isinstance(s, Stub) for s in steps):
        return steps
    version = next(
        (p.split("==", 1)[1] for p in lock.pins(Path(lock_step.lockfile)) if p.startswith("mmcv-lite==")), None
    )
    if version is None or load_kept(version) is None:
        return steps
    out: list[Step] = []
    for s in steps:
        if s is lock_step:
            out.append(replace(s, kept_stub=version, summary=f"{s.summary}, with the kept `_ext` stub for mmcv-lite "
                               f"{version} in the same uv transaction"))  # fmt: skip
        elif isinstance(s, Stub):
            out.append(Stub(summary=f"confirm the kept `mmcv._ext` stub for mmcv-lite {version} is in place "
                            "(it went in with the pinned set)", kept=version))  # fmt: skip
        else:
            out.append(s)
    return tuple(out)


def local_torch(indexes: Indexes) -> tuple[str, ...]:
    """`name==version` of the torch/torchvision wheels in find-links folders, when no torch index is given."""
    if indexes.extra_index_urls or not indexes.find_links:
        return ()
    found: dict[str, str] = {}
    for folder in indexes.find_links:
        for whl in sorted(Path(folder).glob("torch*.whl")):
            name, version, _b, _t = parse_wheel_filename(whl.name)
            if name in HELD:
                found.setdefault(str(name), str(version))
    return tuple(f"{n}=={v}" for n, v in found.items())


def _bind_sources(
    steps: tuple[Step, ...], ctx: Context, rset: RequirementSet | None, sources: Sources
) -> tuple[tuple[Step, ...], str | None]:
    """The indexes torch and torchvision come from, reachability judged now: (steps, refusal)."""
    out: list[Step] = []
    refusal = None
    for s in steps:
        if isinstance(s, InstallTorch):
            out.append(_torch_from(s, ctx, rset, sources))
        elif isinstance(s, InstallTorchvision):
            bound, refusal = _torchvision_from(s, ctx, sources)
            out.append(bound)
        else:
            out.append(s)
    return tuple(out), refusal


def _torch_from(step: InstallTorch, ctx: Context, rset: RequirementSet | None, sources: Sources) -> InstallTorch:
    wanted = (f"torch{rset.torch}" if rset else "torch", "torchvision")
    if sources.torch is not None:  # the user named torch's index: it is used as given
        given = sources.torch.extra_index_urls or sources.torch.find_links
        where = "the torch index given" if given else str(sources.torch.index_url)
        return replace(step, requirements=local_torch(sources.torch) or wanted, indexes=sources.torch, source=where)
    root = pytorch_index_root()
    why = unreachable(root)
    if why is None:
        return replace(step, requirements=wanted)
    fallback = sources.indexes.index_url or PYPI
    notice = (
        f"the PyTorch wheel index {root} cannot be reached ({why}), so torch comes from {fallback}: "
        + torch_build(ctx.os, ctx.machine)
    )
    return replace(
        step,
        summary=f"install torch and torchvision (the target has none) from {fallback}: {root} cannot be reached",
        requirements=wanted,
        indexes=Indexes(index_url=fallback),
        source=fallback,
        fallback=notice,
    )


def _torchvision_from(
    step: InstallTorchvision, ctx: Context, sources: Sources
) -> tuple[InstallTorchvision, str | None]:
    if sources.torch is not None:
        return replace(step, indexes=sources.torch), None
    base = sources.indexes.index_url or PYPI
    # Only the torch index's torchvision counts (first-index); the rest of its needs come from the base.
    extra = (step.index_url,) if step.index_url and step.index_url != base else ()
    bound = replace(
        step, indexes=Indexes(index_url=base, extra_index_urls=extra, strategy="first-index" if extra else None)
    )
    why = unreachable(step.index_url) if step.index_url and step.index_url != PYPI else None
    if why is None:
        return bound, None
    return bound, (
        f"torchvision is missing beside torch {ctx.torch}, and the index that serves that torch's "
        f"torchvision, {step.index_url}, cannot be reached ({why}). Nothing was changed: give an index that "
        "has it with --torch-index URL (or --torch-find-links DIR)"
    )


def build(target: Target, facts: Facts, options: Options | None = None, sources: Sources | None = None) -> Plan:
    ctx = Context.from_facts(facts, options)
    sources = sources or Sources()
    rset = pick_set(ctx.torch, ctx.python_version, ctx.os)
    verdicts, chosen = rank(ctx)
    picked = next((v for v in verdicts if isinstance(v, Candidate) and v.chosen), None)
    steps: tuple[Step, ...] = ()
    refusal = None
    if picked is not None:
        steps = _with_kept_stub(_with_ffmpeg(picked.steps, facts))
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
    else:
        steps, refusal = _bind_sources(steps, ctx, rset, sources)
    notes = (*_notes(ctx, rset, steps, chosen), *_passed_over_locks(verdicts, steps))
    return Plan(target, ctx, rset, verdicts, chosen, steps, notes, refusal, sources)


def make(
    target: Target,
    options: Options | None = None,
    sources: Sources | None = None,
    *,
    progress: Callable[[str], None] | None = None,
    import_timeout: float = probe.DEFAULT_IMPORT_TIMEOUT,
) -> Plan:
    """Probe the target, then build its plan."""
    facts = probe.gather(target, PLAN_MODULES, import_timeout=import_timeout, progress=progress)
    return build(target, facts, options, sources)
