"""lite-stub: mmcv-lite inside every window, plus the generated `mmcv._ext` stub.

Real mmpose, mmdet and mmengine; no compiled ops. DWPose inference calls none of the 112 `_ext`
functions, so it runs; an op that is called raises loudly instead of returning garbage.
"""

from __future__ import annotations

from envdoctor.strategies.base import POSSIBLE, REJECTED, Context, Step, Verdict
from envdoctor.strategies.common import (
    available,
    install_step,
    no_set,
    provider_steps,
    torch_step,
    verify_step,
    windows_ok,
)
from envdoctor.strategies.sets import extra_builds, pick_set

name = "lite-stub"
rank = 2
description = "mmcv-lite (pure Python) inside every mmdet/mmpose window, plus the generated `_ext` stub"


def judge(ctx: Context) -> Verdict:
    rset = pick_set(ctx.torch, ctx.python_version)
    if rset is None:
        return Verdict(name, REJECTED, (no_set(ctx),), description)
    if not available("envdoctor.stub"):
        return Verdict(
            name, REJECTED, ("the `_ext` stub generator (envdoctor.stub) is not in this install",), description
        )
    problems = windows_ok(rset.mmcv, rset.openmmlab)
    if problems:
        return Verdict(
            name, REJECTED, (f"mmcv-lite {rset.mmcv} is outside a window: " + "; ".join(problems),), description
        )
    reasons = [
        f"mmcv-lite {rset.mmcv} is a universal wheel: no build, no dependence on torch {ctx.torch or '(none)'}",
        f"it sits inside every window: {', '.join(rset.openmmlab)}",
        "the stub gives all 112 `_ext` names; nms, bbox_overlaps, roi_align, roi_pool and the deformable convs "
        "are real (on torch and torchvision), the rest raise by name if called (DWPose inference calls none)",
    ]
    reasons += [f"{e.why} (breaker #{e.breaker})" for e in extra_builds(ctx.python_version)]
    if ctx.accelerator and ctx.accelerator != "cpu":
        reasons.append("mmcv's CUDA ops are not compiled: code that needs them fails loudly")
    return Verdict(name, POSSIBLE, tuple(reasons), description)


def steps(ctx: Context) -> tuple[Step, ...]:
    rset = pick_set(ctx.torch, ctx.python_version)
    assert rset is not None, "judge() rejects a target without a requirement set"
    pre, reinstall = provider_steps(ctx, keep="mmcv-lite")
    packages = (*rset.requirements, *rset.openmmlab, f"mmcv-lite=={rset.mmcv}")
    return (
        *torch_step(ctx),
        *pre,
        install_step(ctx, name, rset, packages, torch_free=True, reinstall=reinstall),
        Step(
            kind="stub",
            summary="the `mmcv._ext` stub: the kept one goes in with the pinned set when it matches, "
            "else it is generated from the installed mmcv-lite and installed",
        ),
        verify_step(),
    )
