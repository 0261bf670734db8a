"""prebuilt: a real mmcv with compiled ops, from a wheel made for this torch, CUDA, Python and OS.

Sources, in order: a local wheelhouse (`--find-links DIR` and the `--build` wheelhouse), wheel
indexes the user opted into (`--wheel-index URL`, `--wheel-source NAME`), the official OpenMMLab
wheel index, or with `--build` the PyPI sdist compiled once into the local wheelhouse (envdoctor/build.py).
A wheel is matched by what it says (envdoctor/wheelmatch.py): its torch label, its tags, the
mmdet/mmpose windows. mmcv is installed with --only-binary: never a silent source build.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from packaging.requirements import Requirement
from packaging.version import Version

from envdoctor.cuda import archs, toolchain
from envdoctor.steps import BuildMmcv, Step, Unstub
from envdoctor.strategies import matrix
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
from envdoctor.strategies.sets import RequirementSet, pick_set
from envdoctor.versionwindows import window_for, window_problems
from envdoctor.wheelhouse import local_candidates, project_page, remote_candidates
from envdoctor.wheellabel import TorchLabel, label_for, labelled
from envdoctor.wheelmatch import (
    RELEASE,
    Candidate,
    NearMiss,
    Selection,
    Want,
    built_platform,
    describe,
    select,
    target_tags,
)

NEAR_MISSES_SHOWN = 8


def label(ctx: Context) -> TorchLabel:
    assert ctx.torch is not None
    return label_for(ctx.torch, ctx.accelerator or "cpu")


def want(ctx: Context, rset: RequirementSet) -> Want:
    assert ctx.torch is not None
    return Want(
        torch=ctx.torch,
        platform=ctx.accelerator or "cpu",
        python_tag=ctx.python_tag,
        tags=target_tags(ctx.python_tag, ctx.os, ctx.machine, ctx.glibc, ctx.mac_ver),
        where=f"{ctx.os} {ctx.machine}",
        openmmlab=rset.openmmlab,
        preferred=rset.mmcv,
        gpus=_wanted_sm(ctx),
    )


def _wanted_sm(ctx: Context) -> tuple[int, ...]:
    """The sm numbers a CUDA wheel must run on: --cuda-arch (a fleet), else the visible GPUs; an arch list
    that does not parse asks nothing here (the build's own check refuses it with the reason)."""
    arch = cuda_arch(ctx)[0] if _is_cuda(ctx) else None
    if not arch:
        return ()
    try:
        return tuple(a.sm for a in archs.parse(arch))
    except archs.ArchRefused:
        return ()


@dataclass(frozen=True)
class Found:
    """A fitting wheel and where uv gets it."""

    wheel: Candidate
    links: str
    """A folder or a PEP 503 project page (uv takes either as --find-links)."""
    source: str
    """In words, for the plan: which source, and whether it is third-party."""


@dataclass(frozen=True)
class Search:
    found: Found | None
    reasons: tuple[str, ...]


def _near(selection: Selection, where: str) -> list[str]:
    misses: tuple[NearMiss, ...] = selection.near_misses
    lines = [f"near miss in {where}: {m.filename}: {m.reason}" for m in misses[:NEAR_MISSES_SHOWN]]
    if len(misses) > NEAR_MISSES_SHOWN:
        lines.append(f"... and {len(misses) - NEAR_MISSES_SHOWN} more mmcv wheels in {where} that do not fit")
    return lines


@cache
def _listing(page: str) -> tuple[tuple[Candidate, ...], str | None]:
    """The mmcv wheels on a remote project page (read once per run), or the reason it could not be read."""
    try:
        return tuple(remote_candidates(page)), None
    except (OSError, ValueError) as exc:
        return (), f"{type(exc).__name__}: {exc}"


def _opted_in(ctx: Context) -> list[tuple[str, str, str]]:
    """(project page, torch_match, description) of every wheel index the user opted into."""
    out = [
        (
            project_page(url),
            RELEASE,
            f"the wheel index {url} (given with --wheel-index; its wheels are as trustworthy as whoever built them)",
        )
        for url in ctx.options.wheel_indexes
    ]
    for source_name in ctx.options.wheel_sources:
        s = matrix.source(source_name)
        party = "third-party" if s.third_party else "first-party"
        out.append((s.project_url(), s.torch_match, f"{s.title}, {party}: built by {s.builder}; {s.provenance}"))
    return out


def search(ctx: Context, rset: RequirementSet) -> Search:
    """The first source with a fitting wheel: the local wheelhouses, then the indexes opted into."""
    w = want(ctx, rset)
    reasons: list[str] = []
    folders = (*ctx.options.find_links, wheelhouse(ctx))
    local = select(local_candidates(folders), w)
    where = "the local wheelhouse (" + ", ".join(str(f) for f in folders) + ")"
    if local.chosen:
        folder = str(Path(local.chosen.location).parent)
        return Search(Found(local.chosen, folder, f"the local wheelhouse {folder}"), ())
    reasons += _near(local, where)
    for page, torch_match, about in _opted_in(ctx):
        cands, error = _listing(page)
        if error:
            looks_for = f"mmcv {rset.mmcv}+{label(ctx)} for {ctx.python_tag} on {ctx.os} {ctx.machine}"
            reasons.append(f"could not read {page} ({error}); it would be asked for {looks_for}")
            continue
        sel = select(cands, w, torch_match)
        if sel.chosen:
            return Search(Found(sel.chosen, page, about), tuple(reasons))
        if not sel.near_misses:
            reasons.append(f"{page} lists no mmcv wheel")
        reasons += _near(sel, page)
    return Search(None, tuple(reasons))


def _official(ctx: Context, rset: RequirementSet) -> tuple[matrix.WheelRow | None, list[str]]:
    """The best official wheel row, or the reasons none fits."""
    if ctx.machine not in matrix.supported_machines():
        return None, [f"OpenMMLab publishes mmcv wheels for x86_64 only; this machine is {ctx.machine}"]
    series = ctx.torch_series or ""
    rows = matrix.for_series(ctx.os, series)
    if not rows:
        newest = matrix.newest_series(ctx.os)
        tail = f"; the newest is for torch {newest[0]} (mmcv {newest[1]})" if newest else ""
        if newest and window_problems(newest[1], rset.openmmlab):
            tail += f", outside the window: {window_problems(newest[1], rset.openmmlab)[0]}"
            fitting = [r for r in matrix.rows() if r.os == ctx.os and not window_problems(r.mmcv, rset.openmmlab)]
            if fitting:
                best = max(fitting, key=lambda r: Version(r.torch_series))
                tail += f"; mmcv {best.mmcv} wheels stop at torch {best.torch_series}"
        return None, [f"no mmcv wheel for torch {series} on {ctx.os}{tail}"]
    in_window = [r for r in rows if not window_problems(r.mmcv, rset.openmmlab)]
    if not in_window:
        r = rows[0]
        return None, [
            f"the only mmcv wheels for torch {series} are mmcv {', '.join(sorted({x.mmcv for x in rows}))}, "
            f"outside a window: {'; '.join(window_problems(r.mmcv, rset.openmmlab))}"
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


def cuda_arch(ctx: Context) -> tuple[str | None, str]:
    """(TORCH_CUDA_ARCH_LIST, where it comes from): --cuda-arch or the environment first, else the GPUs."""
    if ctx.options.cuda_arch:
        return ctx.options.cuda_arch, ctx.options.cuda_arch_from or "--cuda-arch"
    if ctx.gpus:
        return ";".join(sorted({cap for _n, cap in ctx.gpus})), "the visible GPUs"
    return None, ""


def _is_cuda(ctx: Context) -> bool:
    return bool(ctx.accelerator and ctx.accelerator.startswith("cu"))


def _build_problems(ctx: Context) -> list[str]:
    problems = []
    if _is_cuda(ctx):
        assert ctx.accelerator
        want_cuda = f"{ctx.accelerator[2:-1]}.{ctx.accelerator[-1]}"
        if toolchain.plan_note(ctx.nvcc, want_cuda) is None:  # neither the machine's nvcc nor PyPI's wheels
            problems.append(f"nvcc is {ctx.nvcc or 'missing'} but torch was built with CUDA {want_cuda}")
        arch = cuda_arch(ctx)[0]
        if arch is None:
            problems.append(
                "no GPU is visible to take TORCH_CUDA_ARCH_LIST from: name the GPUs the wheel is for with "
                "--cuda-arch '8.0;8.6' or TORCH_CUDA_ARCH_LIST"
            )
        else:
            try:  # before anything starts: CUDA 13 compiles nothing below sm_75, sm_120 needs CUDA 12.8
                archs.check_buildable(archs.parse(arch), want_cuda)
            except archs.ArchRefused as exc:
                problems.append(str(exc))
    return problems


def build_time(ctx: Context) -> str:
    cores = os.cpu_count() or 1
    if not _is_cuda(ctx):
        return f"about {matrix.build_estimate(cores) / 60:.0f} minutes on this machine's {cores} cores"
    arch = cuda_arch(ctx)[0]
    try:
        n = len({(a.major, a.minor) for a in archs.parse(arch)}) if arch else 1
    except archs.ArchRefused:
        n = 1  # refused with its own sentence by the build's checks; the estimate stays a guess of one
    minutes = matrix.build_estimate(cores, cuda_archs=n) / 60
    kernels = f"{n} architecture{'s' * (n != 1)}"
    return f"about {minutes:.0f} minutes on this machine's {cores} cores with CUDA kernels for {kernels}"


def _window_note(rset: RequirementSet) -> str:
    parts = []
    for req in rset.openmmlab:
        r = Requirement(req)
        pins = [s.version for s in r.specifier if s.operator == "=="]
        w = window_for(r.name, Version(pins[0])) if pins else None
        if w:
            parts.append(f"{r.name} {pins[0]} accepts mmcv {w.mmcv}")
    return f" ({'; '.join(parts)}: a wheel outside that does not fit)" if parts else ""


def opt_in_sources(ctx: Context, rset: RequirementSet) -> list[str]:
    """The known third-party sources not enabled, each with the exact wheel it would be asked for."""
    assert ctx.torch is not None
    lines = []
    for s in matrix.wheel_sources():
        if not s.third_party or s.name in ctx.options.wheel_sources:
            continue
        tag = s.platform_tag(ctx.os, ctx.machine, ctx.accelerator or "cpu")
        problems = s.covers(ctx.torch, ctx.python_series)
        if tag is None:
            problems.append(f"it builds no {ctx.accelerator} wheels for {ctx.os} {ctx.machine}")
        if problems:
            lines.append(f"{s.name} ({s.title}, third-party) has no wheel for this target: {'; '.join(problems)}")
            continue
        wheel = describe(rset.mmcv, label(ctx), ctx.python_tag, tag or "")
        lines.append(
            f"opt-in, third-party: `--wheel-source {s.name}` looks for {wheel} at {s.project_url()}"
            f"{_window_note(rset)}; {s.title}: built by {s.builder}; {s.provenance}"
        )
    return lines


class Prebuilt(Strategy):
    name = "prebuilt"
    rank = 1
    description = "a real mmcv with compiled ops, from a wheel built for this torch, CUDA, Python and OS"

    def installs(self, rset: RequirementSet, mmcv: str | None = None) -> tuple[str, ...]:
        return (*rset.requirements, *rset.openmmlab, f"mmcv=={mmcv or rset.mmcv}")

    def lock_packages(self, rset: RequirementSet, python: str, os: str, accelerator: str,
                      torch_series: str | None) -> LockPackages:  # fmt: skip
        """The official wheel of the cell's torch series: its mmcv version and its index page."""
        if not torch_series:
            raise ValueError("a prebuilt lockfile needs a torch series: --torch-series M.m")
        tag = "cp" + python.replace(".", "")
        rows = [
            r
            for r in matrix.for_series(os, torch_series)
            if accelerator in r.accelerators and tag in r.python and not window_problems(r.mmcv, rset.openmmlab)
        ]
        if not rows:
            raise ValueError(
                f"no official mmcv wheel inside the windows for torch {torch_series}, {accelerator}, {tag}, {os}"
            )
        best = max(rows, key=lambda r: Version(r.mmcv))
        return LockPackages(self.installs(rset, best.mmcv), find_links=(matrix.index_url(accelerator, torch_series),))

    def judge(self, ctx: Context) -> StrategyVerdict:
        rset = pick_set(ctx.torch, ctx.python_version, ctx.os)
        if ctx.torch is None:
            return self.reject("torch is not installed: a prebuilt mmcv is matched to the torch it runs on")
        if rset is None:
            return self.reject(no_set(ctx))
        found = search(ctx, rset)
        if found.found:
            f = found.found
            return self.candidate(
                ctx,
                (f"mmcv {f.wheel.version} ({f.wheel.filename}) fits this target, from {f.source}", *found.reasons),
                self._steps(ctx, rset, (f.links,), str(f.wheel.version)),
            )
        row, reasons = _official(ctx, rset)
        if row:
            index = matrix.index_url(ctx.accelerator or "cpu", row.torch_series)
            return self.candidate(
                ctx,
                (
                    f"OpenMMLab publishes mmcv {row.mmcv} for torch {row.torch_series} with {ctx.accelerator} on "
                    f"{ctx.python_tag} {ctx.os}: {index}",
                ),
                self._steps(ctx, rset, (index,), row.mmcv),
            )
        reasons = [*reasons, *found.reasons]
        built = describe(rset.mmcv, label(ctx), ctx.python_tag, built_platform(ctx.os, ctx.machine))
        if ctx.options.build:
            problems = _build_problems(ctx)
            if problems:
                return self.reject(*reasons, "--build: " + "; ".join(problems))
            arch, arch_from = cuda_arch(ctx)
            arch_text = ""
            if ctx.accelerator and _is_cuda(ctx):
                note = toolchain.plan_note(ctx.nvcc, f"{ctx.accelerator[2:-1]}.{ctx.accelerator[-1]}")
                arch_text = f", TORCH_CUDA_ARCH_LIST={arch} from {arch_from}, {note}"
            build = _build_step(ctx, rset)
            return self.candidate(
                ctx,
                (
                    *reasons,
                    f"--build: compile {built} against torch {ctx.torch} once into {wheelhouse(ctx)}{arch_text} "
                    f"({build_time(ctx)}), so the next environment with this torch gets it prebuilt",
                ),
                self._steps(ctx, rset, (build.wheelhouse,), build.requirement.partition("==")[2], build),
            )
        return self.reject(
            *reasons,
            *opt_in_sources(ctx, rset),
            f"mmcv on PyPI is a source archive only: add --build to compile {built} here instead "
            f"({build_time(ctx)}), or give a wheelhouse that has it (--find-links DIR, --wheel-index URL)",
        )

    def _steps(self, ctx: Context, rset: RequirementSet, links: tuple[str, ...], mmcv: str,
               build: BuildMmcv | None = None) -> tuple[Step, ...]:  # fmt: skip
        pre, reinstall = provider_steps(ctx, keep="mmcv")
        removal: tuple[Step, ...] = ()
        if ctx.has("mmcv-ext-stub"):
            removal = (Unstub(summary="remove the `_ext` stub: the real compiled ops replace it"),)
        install = install_step(
            ctx,
            rset,
            self.installs(rset, mmcv),
            lockfile=matching_lockfile(ctx, self.name, rset, torch_free=False) if ctx.options.lockfile else None,
            find_links=links,
            reinstall=reinstall,
            no_build=("mmcv",),
        )
        return (*torch_step(ctx), *((build,) if build else ()), *removal, *pre, install, verify_step())


def _build_step(ctx: Context, rset: RequirementSet) -> BuildMmcv:
    """`--build`: mmcv from its PyPI sdist against the target's torch, into the local wheelhouse."""
    folder = wheelhouse(ctx)
    mmcv = str(labelled(rset.mmcv, label(ctx)))
    # torch's extension builder runs ninja with cores + 2 jobs unless MAX_JOBS says otherwise; one compile
    # of mmcv's CUDA files takes up to a GB or so, so the build keeps to the cores (a MAX_JOBS the user set
    # is theirs).
    jobs = os.environ.get("MAX_JOBS") or str(os.cpu_count() or 1)
    env = [("MMCV_WITH_OPS", "1"), ("MAX_JOBS", jobs)]
    arch_note = ""
    if _is_cuda(ctx):
        arch, arch_from = cuda_arch(ctx)
        env += [("FORCE_CUDA", "1"), ("TORCH_CUDA_ARCH_LIST", arch or "")]
        arch_note = f", TORCH_CUDA_ARCH_LIST={arch} from {arch_from}"
    return BuildMmcv(
        summary=f"build mmcv {mmcv} from its sdist against torch {ctx.torch} into {folder}{arch_note} "
        f"({build_time(ctx)}, {jobs} compile jobs at once; no build isolation: setuptools <82, wheel and ninja "
        "go into the target first)",
        requirement=f"mmcv=={mmcv}",
        wheelhouse=str(folder),
        build_constraints=("setuptools<82",),
        env=tuple(env),
    )
