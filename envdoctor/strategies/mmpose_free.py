"""mmpose-free: no OpenMMLab package at all; envdoctor's DWPose port provides `mmpose`.

The port (envdoctor/dwpose/) runs the same DWPose weights, so MuseTalk's crop boxes do not change.
"""

from __future__ import annotations

from envdoctor.strategies.base import POSSIBLE, REJECTED, Context, Step, Verdict
from envdoctor.strategies.common import (
    OPENMMLAB_DISTS,
    available,
    install_step,
    no_set,
    torch_step,
    verify_step,
)
from envdoctor.strategies.sets import pick_set

name = "mmpose-free"
rank = 3
description = "no OpenMMLab package: envdoctor's DWPose port provides `mmpose` (same weights, same landmarks)"
PORT_DIST = "envdoctor-mmpose-free"


def judge(ctx: Context) -> Verdict:
    rset = pick_set(ctx.torch, ctx.python_version, ctx.os)
    if rset is None:
        return Verdict(name, REJECTED, (no_set(ctx),), description)
    if not _port_ready():
        return Verdict(
            name, REJECTED, ("the DWPose port's wheel builder (envdoctor.dwpose) is not in this install",), description
        )
    return Verdict(
        name,
        POSSIBLE,
        (
            "needs no mmcv, mmdet, mmengine, xtcocotools or compiler, on any torch",
            "ranked after the strategies that keep the real mmpose",
        ),
        description,
    )


def _port_ready() -> bool:
    """The port's builder API (docs/dwpose.md): build_wheel(outdir) and requirements(wheel)."""
    if not available("envdoctor.dwpose"):
        return False
    try:
        import envdoctor.dwpose as port
    except Exception:  # a broken port is the same as none here: the verdict says so
        return False
    return callable(getattr(port, "build_wheel", None)) and callable(getattr(port, "requirements", None))


def _removes() -> tuple[str, ...]:
    try:
        from envdoctor.dwpose import REMOVES

        return tuple(REMOVES)
    except ImportError:
        return OPENMMLAB_DISTS


def steps(ctx: Context) -> tuple[Step, ...]:
    rset = pick_set(ctx.torch, ctx.python_version, ctx.os)
    assert rset is not None, "judge() rejects a target without a requirement set"
    gone = tuple(d for d in _removes() if ctx.has(d))
    summary = "uninstall the OpenMMLab packages (the port replaces them): " + ", ".join(gone)
    pre = (Step(kind="uninstall", summary=summary, packages=gone),) if gone else ()
    return (
        *torch_step(ctx),
        *pre,
        install_step(ctx, name, rset, rset.requirements, torch_free=True),
        Step(kind="dwpose", summary=f"build the DWPose port wheel ({PORT_DIST}) and install it", packages=(PORT_DIST,)),
        verify_step(),
    )
