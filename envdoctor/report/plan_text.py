"""`envdoctor plan` and `envdoctor fix` for people: the target, each strategy's verdict, the steps, the result."""

from __future__ import annotations

from envdoctor.apply.results import ApplyResult
from envdoctor.plan import Plan
from envdoctor.strategies import CHOSEN, REJECTED

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
        if step.lockfile:
            lines.append(f"       lockfile: {step.lockfile}")
        if step.packages and step.kind in ("install", "uninstall"):
            lines.append(f"       packages: {' '.join(step.packages)}")
        if step.constraints:
            lines.append(f"       constraints: {' '.join(step.constraints)}")
        if step.find_links:
            lines.append(f"       find-links: {' '.join(step.find_links)}")
    lines += ["", "Notes:"] + [f"  - {n}" for n in plan.notes]
    return "\n".join(lines)


def render_result(result: ApplyResult) -> str:
    """What `fix` prints after applying (or rolling back): its notices, OK/FAILED and the failed checks."""
    lines = [""]
    lines += [f"notice: {notice}" for notice in result.notices]
    lines.append(("OK: " if result.ok else "FAILED: ") + result.message)
    if result.verification and result.verification.failures and not result.left_for_you:
        lines += [f"  - {f}" for f in result.verification.failures]
    return "\n".join(lines)
