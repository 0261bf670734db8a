"""lite-stub: mmcv-lite inside every window, plus the generated `mmcv._ext` stub.

Real mmpose, mmdet and mmengine; no compiled ops. DWPose inference calls none of the 112 `_ext`
functions, so it runs; an op that is called raises loudly instead of returning garbage.
"""

from __future__ import annotations

from pathlib import Path

from packaging.utils import InvalidWheelFilename, canonicalize_name, parse_wheel_filename
from packaging.version import Version

from envdoctor.steps import BuildWheel, Step, Stub
from envdoctor.strategies.base import Context, LockPackages, Strategy, StrategyVerdict
from envdoctor.strategies.common import (
    install_step,
    matching_lockfile,
    no_set,
    provider_steps,
    torch_step,
    verify_step,
    wheelhouse,
)
from envdoctor.strategies.sets import NeedsWheel, RequirementSet, extra_builds, needs_wheel, pick_set
from envdoctor.versionwindows import window_problems
from envdoctor.wheelmatch import built_platform, target_tags


class LiteStub(Strategy):
    name = "lite-stub"
    rank = 2
    description = "mmcv-lite (pure Python) inside every mmdet/mmpose window, plus the generated `_ext` stub"

    def installs(self, rset: RequirementSet, mmcv: str | None = None) -> tuple[str, ...]:
        return (*rset.requirements, *rset.openmmlab, f"mmcv-lite=={mmcv or rset.mmcv}")

    def lock_packages(self, rset: RequirementSet, python: str, os: str, accelerator: str,
                      torch_series: str | None) -> LockPackages:  # fmt: skip
        return LockPackages(
            self.installs(rset),
            notes=("after installing, envdoctor adds the generated mmcv._ext stub (envdoctor fix does)",),
        )

    def judge(self, ctx: Context) -> StrategyVerdict:
        rset = pick_set(ctx.torch, ctx.python_version, ctx.os)
        if rset is None:
            return self.reject(no_set(ctx))
        problems = window_problems(rset.mmcv, rset.openmmlab)
        if problems:
            return self.reject(f"mmcv-lite {rset.mmcv} is outside a window: " + "; ".join(problems))
        reasons = [
            f"mmcv-lite {rset.mmcv} is a universal wheel: no build, no dependence on torch {ctx.torch or '(none)'}",
            f"it sits inside every window: {', '.join(rset.openmmlab)}",
            "the stub gives all 112 `_ext` names; nms, bbox_overlaps, roi_align, roi_pool and the deformable convs "
            "are real (on torch and torchvision), the rest raise by name if called (DWPose inference calls none)",
        ]
        packages = self.installs(rset)
        lockfile = matching_lockfile(ctx, self.name, rset, torch_free=True)
        wheels: list[Path] = []
        builds: list[Step] = []
        for need in needs_wheel(ctx.python_version, packages):
            local = local_wheel(ctx, need)
            if lockfile is not None:
                if local is not None:  # said, so a wheel in the wheelhouse never silently changes the install
                    reasons.append(f"{local} is not used: {lockfile.name} pins {need.pin} with its hashes")
                continue
            if local is not None:
                reasons.append(f"{need.pin} from the local wheel {local}")
                wheels.append(local)
                continue
            missing = (
                f"{need.package} {need.version} has no wheel for {target_tag(ctx)} (PyPI has wheels for Python "
                f"{need.wheels}); `--build` would compile it from its sdist, or --find-links DIR with such a wheel"
            )
            if not ctx.options.build:
                return self.reject(missing)
            reasons.append(
                f"{need.package} {need.version} has no wheel for {target_tag(ctx)}: --build compiles it once from "
                f"its sdist against the target's numpy into the wheelhouse (about a minute); the next environment "
                f"on this machine installs that wheel"
            )
            builds.append(_build_step(ctx, need))
        reasons += [f"{e.why} (breaker #{e.breaker})" for e in extra_builds(ctx.python_version)]
        if ctx.accelerator and ctx.accelerator != "cpu":
            reasons.append("mmcv's CUDA ops are not compiled: code that needs them fails loudly")
        links = tuple(dict.fromkeys(str(w.parent) for w in wheels))
        if builds:
            links = (*links, str(wheelhouse(ctx)))
        pre, reinstall = provider_steps(ctx, keep="mmcv-lite")
        install = install_step(ctx, rset, packages, lockfile=lockfile, reinstall=reinstall, find_links=links)
        steps = (
            *torch_step(ctx),
            *builds,
            *pre,
            install,
            Stub(
                summary="the `mmcv._ext` stub: generated from the installed mmcv-lite and installed "
                "(the plan says when the kept one goes in with the pinned set instead)",
            ),
            verify_step(),
        )
        return self.candidate(ctx, reasons, steps)


def _build_step(ctx: Context, need: NeedsWheel) -> BuildWheel:
    """`--build`: the wheel PyPI lacks, compiled from its sdist into the wheelhouse (envdoctor/build.py)."""
    return BuildWheel(
        summary=f"build {need.package} {need.version} from its sdist against the target's numpy into "
        f"{wheelhouse(ctx)} (no wheel for {target_tag(ctx)} on PyPI; about a minute)",
        requirement=need.pin,
        wheelhouse=str(wheelhouse(ctx)),
    )


def target_tag(ctx: Context) -> str:
    """How a wheel tag names this target: cp313-linux_x86_64, cp313-macosx_*_arm64, cp313-win_amd64."""
    return f"{ctx.python_tag}-{built_platform(ctx.os, ctx.machine or 'unknown')}"


def _fits(ctx: Context, whl: Path) -> bool:
    """A wheel installs on this target: its tags meet the target's (packaging.tags, from the probed facts)."""
    try:
        _name, _version, _build, tags = parse_wheel_filename(whl.name)
    except InvalidWheelFilename:
        return False
    return not tags.isdisjoint(target_tags(ctx.python_tag, ctx.os, ctx.machine, ctx.glibc, ctx.mac_ver))


def local_wheel(ctx: Context, need: NeedsWheel) -> Path | None:
    """A wheel of `need` that fits this target, in a --find-links folder or the wheelhouse."""
    roots = [*ctx.options.find_links, wheelhouse(ctx)]
    for root in roots:
        if not root.is_dir():
            continue
        for whl in sorted(root.rglob("*.whl")):
            try:
                dist, version, _build, _tags = parse_wheel_filename(whl.name)
            except InvalidWheelFilename:
                continue
            if canonicalize_name(dist) == need.package and version == Version(need.version) and _fits(ctx, whl):
                return whl
    return None
