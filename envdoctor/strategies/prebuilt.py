"""prebuilt: a real mmcv with compiled ops, from a wheel made for this torch, CUDA, Python and OS.

Sources, in order: a local wheelhouse (`--find-links DIR`), the official OpenMMLab wheel index, or
with `--build` the PyPI sdist compiled once into the local wheelhouse (the way that actually works:
no build isolation, setuptools <82, MMCV_WITH_OPS=1, FORCE_CUDA and TORCH_CUDA_ARCH_LIST from the
GPUs, a matching nvcc). mmcv is installed with --only-binary: never a silent source build.
"""

from __future__ import annotations

from pathlib import Path

from packaging.utils import InvalidWheelFilename, canonicalize_name, parse_wheel_filename
from packaging.version import Version

from envdoctor.strategies import matrix
from envdoctor.strategies.base import POSSIBLE, REJECTED, Context, Step, Verdict
from envdoctor.strategies.common import (
    install_step,
    no_set,
    provider_steps,
    torch_step,
    verify_step,
    windows_ok,
)
from envdoctor.strategies.sets import RequirementSet, pick_set

name = "prebuilt"
rank = 1
description = "a real mmcv with compiled ops, from a wheel built for this torch, CUDA, Python and OS"

DEFAULT_WHEELHOUSE = Path.home() / ".cache" / "envdoctor" / "wheelhouse"


def wheelhouse(ctx: Context) -> Path:
    return ctx.options.wheelhouse or DEFAULT_WHEELHOUSE


def build_folder(ctx: Context) -> Path:
    """One folder per torch series and accelerator: a wheel's name does not say which torch it needs."""
    return wheelhouse(ctx) / f"torch{ctx.torch_series}-{ctx.accelerator}"


def _local_wheels(ctx: Context, rset: RequirementSet) -> list[Path]:
    """mmcv wheels in --find-links folders that fit this Python, OS and every window.

    Only a folder named for this torch series and accelerator is trusted (a wheel's filename does
    not record the torch it was compiled against); other mmcv wheels are reported, not used.
    """
    found = []
    for root in ctx.options.find_links:
        for folder in (root / f"torch{ctx.torch_series}-{ctx.accelerator}",):
            for whl in sorted(folder.glob("mmcv-*.whl")) if folder.is_dir() else []:
                try:
                    dist, version, _build, tags = parse_wheel_filename(whl.name)
                except InvalidWheelFilename:
                    continue
                if canonicalize_name(dist) != "mmcv" or windows_ok(str(version), rset.openmmlab):
                    continue
                if any(t.interpreter == ctx.python_tag for t in tags) and any(
                    _platform_fits(t.platform, ctx) for t in tags
                ):
                    found.append(whl)
    return found


def _platform_fits(platform: str, ctx: Context) -> bool:
    if platform == "any":
        return True
    return {"linux": "linux", "windows": "win", "macos": "macosx"}.get(ctx.os, "?") in platform


def _official(ctx: Context, rset: RequirementSet) -> tuple[matrix.WheelRow | None, list[str]]:
    """The best official wheel row, or the reasons none fits."""
    if ctx.machine not in matrix.supported_machines():
        return None, [f"OpenMMLab publishes mmcv wheels for x86_64 only; this machine is {ctx.machine}"]
    series = ctx.torch_series or ""
    rows = matrix.for_series(ctx.os, series)
    if not rows:
        newest = matrix.newest_series(ctx.os)
        tail = f"; the newest is for torch {newest[0]} (mmcv {newest[1]})" if newest else ""
        if newest and windows_ok(newest[1], rset.openmmlab):
            tail += f", outside the window: {windows_ok(newest[1], rset.openmmlab)[0]}"
            fitting = [r for r in matrix.rows() if r.os == ctx.os and not windows_ok(r.mmcv, rset.openmmlab)]
            if fitting:
                best = max(fitting, key=lambda r: Version(r.torch_series))
                tail += f"; mmcv {best.mmcv} wheels stop at torch {best.torch_series}"
        return None, [f"no mmcv wheel for torch {series} on {ctx.os}{tail}"]
    in_window = [r for r in rows if not windows_ok(r.mmcv, rset.openmmlab)]
    if not in_window:
        r = rows[0]
        return None, [
            f"the only mmcv wheels for torch {series} are mmcv {', '.join(sorted({x.mmcv for x in rows}))}, "
            f"outside a window: {'; '.join(windows_ok(r.mmcv, rset.openmmlab))}"
        ]
    acc = [r for r in in_window if ctx.accelerator in r.accelerators]
    if not acc:
        offered = sorted({a for r in in_window for a in r.accelerators})
        return None, [f"no mmcv wheel for torch {series} with {ctx.accelerator}; there are: {', '.join(offered)}"]
    py = [r for r in acc if ctx.python_tag in r.python]
    if not py:
        offered = sorted({p for r in acc for p in r.python})
        return None, [f"no mmcv wheel for {ctx.python_tag} with torch {series}; there are: {', '.join(offered)}"]
    return max(py, key=lambda r: Version(r.mmcv)), []


def _build_problems(ctx: Context) -> list[str]:
    problems = []
    if ctx.accelerator and ctx.accelerator.startswith("cu"):
        want = f"{ctx.accelerator[2:-1]}.{ctx.accelerator[-1]}"
        if not ctx.nvcc:
            problems.append(f"building mmcv's CUDA ops needs nvcc {want}; none was found")
        elif ctx.nvcc != want:
            problems.append(f"nvcc is {ctx.nvcc} but torch was built with CUDA {want}")
        if not ctx.gpus:
            problems.append("no GPU is visible to set TORCH_CUDA_ARCH_LIST from")
    return problems


def _arch_list(ctx: Context) -> str:
    return ";".join(sorted({cap for _n, cap in ctx.gpus}))


def judge(ctx: Context) -> Verdict:
    rset = pick_set(ctx.torch, ctx.python_version)
    if ctx.torch is None:
        return Verdict(
            name, REJECTED, ("torch is not installed: a prebuilt mmcv is matched to the torch it runs on",), description
        )
    if rset is None:
        return Verdict(name, REJECTED, (no_set(ctx),), description)
    local = _local_wheels(ctx, rset)
    if local:
        return Verdict(name, POSSIBLE, (f"a matching mmcv wheel is in the local wheelhouse: {local[-1]}",), description)
    row, reasons = _official(ctx, rset)
    if row:
        return Verdict(
            name,
            POSSIBLE,
            (
                f"OpenMMLab publishes mmcv {row.mmcv} for torch {row.torch_series} with {ctx.accelerator} on "
                f"{ctx.python_tag} {ctx.os}: {matrix.index_url(ctx.accelerator or 'cpu', row.torch_series)}",
            ),
            description,
        )
    if ctx.options.build:
        problems = _build_problems(ctx)
        if problems:
            return Verdict(name, REJECTED, (*reasons, "--build: " + "; ".join(problems)), description)
        return Verdict(
            name,
            POSSIBLE,
            (
                *reasons,
                f"--build: compile mmcv {rset.mmcv} against torch {ctx.torch} once into {build_folder(ctx)} "
                "(about 10 minutes on 2 cores), so the next environment on this machine gets it prebuilt",
            ),
            description,
        )
    return Verdict(
        name,
        REJECTED,
        (
            *reasons,
            f"mmcv on PyPI is a source archive only: add --build to compile mmcv {rset.mmcv} for torch "
            f"{ctx.torch_series} into a local wheelhouse (about 10 minutes), or --find-links DIR with a wheel "
            f"in DIR/torch{ctx.torch_series}-{ctx.accelerator}/",
        ),
        description,
    )


def steps(ctx: Context) -> tuple[Step, ...]:
    rset = pick_set(ctx.torch, ctx.python_version)
    assert rset is not None and ctx.torch is not None, "judge() rejects these targets"
    pre, reinstall = provider_steps(ctx, keep="mmcv")
    removal: tuple[Step, ...] = ()
    if ctx.has("mmcv-ext-stub"):
        removal = (Step(kind="unstub", summary="remove the `_ext` stub: the real compiled ops replace it"),)
    local = _local_wheels(ctx, rset)
    row, _ = _official(ctx, rset)
    build: tuple[Step, ...] = ()
    if local:
        links: tuple[str, ...] = (str(local[-1].parent),)
        mmcv = str(parse_wheel_filename(local[-1].name)[1])
    elif row:
        links = (matrix.index_url(ctx.accelerator or "cpu", row.torch_series),)
        mmcv = row.mmcv
    else:
        folder = build_folder(ctx)
        links, mmcv = (str(folder),), rset.mmcv
        env = [("MMCV_WITH_OPS", "1")]
        if ctx.accelerator and ctx.accelerator.startswith("cu"):
            env += [("FORCE_CUDA", "1"), ("TORCH_CUDA_ARCH_LIST", _arch_list(ctx))]
        build = (
            Step(
                kind="build-mmcv",
                summary=f"build mmcv {mmcv} from its sdist against torch {ctx.torch} into {folder} "
                "(no build isolation: setuptools <82, wheel and ninja go into the target first)",
                packages=(f"mmcv=={mmcv}",),
                build_constraints=("setuptools<82",),
                find_links=(str(folder),),
                env=tuple(env),
                long=True,
            ),
        )
    packages = (*rset.requirements, *rset.openmmlab, f"mmcv=={mmcv}")
    install = install_step(
        ctx, name, rset, packages, torch_free=False, find_links=links, reinstall=reinstall, no_build=("mmcv",)
    )
    return (*torch_step(ctx), *build, *removal, *pre, install, verify_step())
