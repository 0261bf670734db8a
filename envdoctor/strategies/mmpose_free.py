"""mmpose-free: no OpenMMLab package at all; envdoctor's DWPose port provides `mmpose`.

The port (envdoctor/dwpose/) runs the same DWPose weights, so MuseTalk's crop boxes do not change.
"""

from __future__ import annotations

from envdoctor.dwpose.meta import DIST_NAME, REMOVES
from envdoctor.steps import Dwpose, Uninstall
from envdoctor.strategies.base import Context, LockPackages, Strategy, StrategyVerdict
from envdoctor.strategies.common import install_step, matching_lockfile, no_set, torch_step, verify_step
from envdoctor.strategies.sets import RequirementSet, pick_set


class MmposeFree(Strategy):
    name = "mmpose-free"
    rank = 3
    description = "no OpenMMLab package: envdoctor's DWPose port provides `mmpose` (same weights, same landmarks)"

    def installs(self, rset: RequirementSet, mmcv: str | None = None) -> tuple[str, ...]:
        return rset.requirements

    def lock_packages(self, rset: RequirementSet, python: str, os: str, accelerator: str,
                      torch_series: str | None) -> LockPackages:  # fmt: skip
        return LockPackages(
            self.installs(rset),
            notes=("after installing, envdoctor installs its DWPose port as `mmpose` (envdoctor fix does)",),
        )

    def judge(self, ctx: Context) -> StrategyVerdict:
        rset = pick_set(ctx.torch, ctx.python_version, ctx.os)
        if rset is None:
            return self.reject(no_set(ctx))
        gone = tuple(d for d in REMOVES if ctx.has(d))
        summary = "uninstall the OpenMMLab packages (the port replaces them): " + ", ".join(gone)
        pre = (Uninstall(summary=summary, packages=gone),) if gone else ()
        lockfile = matching_lockfile(ctx, self.name, rset, torch_free=True)
        steps = (
            *torch_step(ctx),
            *pre,
            install_step(ctx, rset, self.installs(rset), lockfile=lockfile),
            Dwpose(summary=f"build the DWPose port wheel ({DIST_NAME}) and install it", dist=DIST_NAME),
            verify_step(),
        )
        reasons = (
            "needs no mmcv, mmdet, mmengine, xtcocotools or compiler, on any torch",
            "ranked after the strategies that keep the real mmpose",
        )
        return self.candidate(ctx, reasons, steps)
