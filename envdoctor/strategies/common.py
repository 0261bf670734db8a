"""Pieces the strategies share: the held packages, the install step, the lockfile that matches."""

from __future__ import annotations

from pathlib import Path

from envdoctor import sources
from envdoctor.cachedir import cache_root
from envdoctor.datafiles import load
from envdoctor.lockgate import platform_for
from envdoctor.resources import lockfiles_dir
from envdoctor.steps import Install, InstallLock, Installs, InstallTorch, InstallTorchvision, Step, Uninstall, Verify
from envdoctor.strategies.base import Context
from envdoctor.strategies.sets import RequirementSet, active_constraints, coverage, excludes, extra_build_pairs

MMCV_PROVIDERS = ("mmcv", "mmcv-lite", "mmcv-full")
HELD = ("torch", "torchvision")


def held(ctx: Context) -> tuple[str, ...]:
    """torch and torchvision stay where they are: out of every resolution."""
    return () if ctx.options.allow_torch_change else HELD


def lock_name(strategy: str, set_name: str, python_series: str, accelerator: str, os: str) -> str:
    return f"{strategy}-{set_name}-py{python_series.replace('.', '')}-{accelerator}-{os}"


def find_lockfile(ctx: Context, strategy: str, rset: RequirementSet, torch_free: bool) -> Path | None:
    """The committed lockfile for this target. A strategy that never touches torch-built binaries
    (torch is held, out of the lock) may use the cpu lockfile on any accelerator."""
    platform = platform_for(ctx.os, ctx.machine)  # linux x86_64 and linux aarch64 have lockfiles of their own
    if platform is None:
        return None
    accs = [ctx.accelerator or "cpu"]
    if torch_free and "cpu" not in accs:
        accs.append("cpu")
    for acc in accs:
        path = lockfiles_dir() / f"{lock_name(strategy, rset.name, ctx.python_series, acc, platform.key)}.txt"
        if path.is_file():
            return path
    return None


def matching_lockfile(ctx: Context, strategy: str, rset: RequirementSet, torch_free: bool) -> Path | None:
    """The lockfile the install uses: --lockfile, else the committed one for this target; None with --resolve.
    Decided here, once: local wheels never turn a locked install into a resolve behind the plan's back."""
    if ctx.options.lockfile:
        return ctx.options.lockfile
    if ctx.options.resolve:
        return None
    return find_lockfile(ctx, strategy, rset, torch_free)


def install_step(
    ctx: Context,
    rset: RequirementSet,
    packages: tuple[str, ...],
    *,
    lockfile: Path | None,
    find_links: tuple[str, ...] = (),
    reinstall: tuple[str, ...] = (),
    no_build: tuple[str, ...] = (),
) -> Installs:
    cons = active_constraints(ctx.torch, packages, ctx.python_version)
    runtime = tuple(dict.fromkeys(c.requirement for c in cons if not c.build))
    build = tuple(dict.fromkeys(c.requirement for c in cons if c.build))
    excl = tuple(name for name, _ in excludes()) + held(ctx)
    if lockfile:
        return InstallLock(
            summary=f"install the pinned set from {lockfile.name} (hashes checked; torch and torchvision untouched)",
            lockfile=str(lockfile),
            build_constraints=build,
            extra_build=extra_build_pairs(ctx.python_version),
            reinstall=reinstall,
        )
    why = "--resolve: committed lockfiles ignored" if ctx.options.resolve else "no lockfile matches"
    return Install(
        summary=(
            f"resolve and install MuseTalk's '{rset.name}' set with uv"
            + (", with mmcv only from a wheel" if no_build else "")
            + f" ({why})"
        ),
        packages=packages,
        constraints=runtime,
        build_constraints=build,
        excludes=excl,
        reinstall=reinstall,
        find_links=find_links,
        only_binary=no_build,
        extra_build=extra_build_pairs(ctx.python_version),
        why=why,
    )


def provider_steps(ctx: Context, keep: str | None) -> tuple[tuple[Step, ...], tuple[str, ...]]:
    """Uninstall every mmcv provider but `keep`; returns (steps, packages to reinstall).

    Two providers overwrite each other's files, so when `keep` shares the folder with another
    provider it is removed too and installed afresh.
    """
    present = [p for p in MMCV_PROVIDERS if ctx.has(p)]
    others = [p for p in present if p != keep]
    if not others:
        return (), ()
    remove = list(others)
    reinstall: tuple[str, ...] = ()
    if keep and keep in present:
        remove.append(keep)
        reinstall = (keep,)
    summary = "uninstall " + ", ".join(remove) + ": exactly one distribution may provide `mmcv`"
    if reinstall:
        summary += f" ({keep} is reinstalled below, its files were overwritten)"
    return (Uninstall(summary=summary, packages=tuple(remove)),), reinstall


def wheelhouse(ctx: Context) -> Path:
    """The local wheelhouse: where `--build` puts what it compiles and where every strategy looks first."""
    return ctx.options.wheelhouse or cache_root() / "wheelhouse"


def torch_index(ctx: Context) -> str:
    """The index that serves the target's torch: PyTorch's for a +cpu/+cuXYZ build, else PyPI."""
    local = ctx.torch.local if ctx.torch is not None else None
    return sources.pytorch_index(local) if local else sources.PYPI


def torchvision_step(ctx: Context) -> tuple[Step, ...]:
    """torch without torchvision: the torchvision made for that torch, from the index that serves it (the
    plan binds the indexes uv is given, with the sources the user named)."""
    if ctx.torch is None or ctx.torchvision is not None or not held(ctx):
        return ()
    series = load("torchvision.toml")["series"].get(ctx.torch_series)
    if series is None:
        return ()
    index = torch_index(ctx)
    return (
        InstallTorchvision(
            summary=f"install torchvision {series}.x, the release made for torch {ctx.torch}, from {index}",
            requirement=f"torchvision=={series}.*",
            torch_pin=f"torch=={ctx.torch}",
            index_url=index,
        ),
    )


def torch_step(ctx: Context) -> tuple[Step, ...]:
    if ctx.torch is not None:
        return torchvision_step(ctx)
    return (
        InstallTorch(
            summary="install torch and torchvision (the target has none) from the torch index for this machine",
            requirements=HELD,
            source="uv's --torch-backend auto (the index for this machine's driver)",
        ),
    )


def verify_step() -> Verify:
    return Verify(summary="run `envdoctor check` again: success is a green check, not a finished install")


def no_set(ctx: Context) -> str:
    return (
        f"no MuseTalk requirement set fits torch {ctx.torch or 'none'} on Python {ctx.python_series} "
        f"(the sets cover {coverage()})"
    )
