"""`envdoctor plan` and `envdoctor fix` for people: the target, each strategy's verdict, the steps, the result."""

from __future__ import annotations

from envdoctor.apply.results import ApplyResult
from envdoctor.plan import Plan
from envdoctor.steps import Install, InstallLock, InstallTorch, InstallTorchvision, SdistBuild, Step, Uninstall
from envdoctor.strategies import CHOSEN, REJECTED
from envdoctor.uv import Indexes

MARKS = {CHOSEN: "[✓]", REJECTED: "[✗]"}


def render(plan: Plan) -> str:
    ctx = plan.context
    lines = [
        f"Target: {plan.target.reason}",
        f"  Python {ctx.python_version} ({ctx.python_tag}), {ctx.os} {ctx.machine}, "
        f"torch {ctx.torch or 'not installed'} ({ctx.accelerator or 'no accelerator'}), "
        f"GPUs: {', '.join(f'{n} sm_{c}' for n, c in ctx.gpus) or 'none'}",
        "",
        "Strategies:",
    ]
    for v in plan.verdicts:
        lines.append(f"  {MARKS.get(v.status, '[ ]')} {v.strategy} ({v.status}): {v.summary}")
        lines += [f"        - {r}" for r in v.reasons]
    if plan.refusal:
        lines += ["", f"Refused: {plan.refusal}"]
        return "\n".join(lines)
    if not plan.chosen:
        lines += ["", "No strategy works for this target: see the reasons above."]
        return "\n".join(lines)
    lines += ["", f"Plan ({plan.chosen}):"]
    for i, step in enumerate(plan.steps, 1):
        lines.append(f"  {i}. {step.summary}")
        lines += [f"       {key}: {value}" for key, value in _details(step)]
    lines += ["", "Notes:"] + [f"  - {n}" for n in plan.notes]
    return "\n".join(lines)


def _details(step: Step) -> list[tuple[str, str]]:
    """The fields of a step a person checks before saying yes: what goes in, from where."""
    out: list[tuple[str, str]] = []
    if isinstance(step, InstallLock):
        out.append(("lockfile", step.lockfile))
    if isinstance(step, Install | Uninstall) and step.packages:
        out.append(("packages", " ".join(step.packages)))
    if isinstance(step, Install) and step.constraints:
        out.append(("constraints", " ".join(step.constraints)))
    if isinstance(step, Install) and step.find_links:
        out.append(("find-links", " ".join(step.find_links)))
    if isinstance(step, InstallTorchvision):
        out.append(("constraints", step.torch_pin))
    if isinstance(step, InstallTorch | InstallTorchvision) and step.indexes is not None:
        out.append(("indexes", _indexes(step.indexes)))
    if isinstance(step, SdistBuild):
        out.append(("wheelhouse", step.wheelhouse))
    return out


def _indexes(i: Indexes) -> str:
    return " ".join(i.args()) or "uv's defaults (PyPI)"


def render_result(result: ApplyResult) -> str:
    """What `fix` prints after applying (or rolling back): its notices, OK/FAILED and the failed checks."""
    lines = [""]
    lines += [f"notice: {notice}" for notice in result.notices]
    lines.append(("OK: " if result.ok else "FAILED: ") + result.message)
    if result.verification and result.verification.failures and not result.left_for_you:
        lines += [f"  - {f}" for f in result.verification.failures]
    return "\n".join(lines)
