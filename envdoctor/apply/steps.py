"""The step handlers: one small function per step kind, looked up in HANDLERS.

Each handler gets the StepContext (plan, uv, package sources, a scratch folder) and one Step, changes
the target through uv, and returns one sentence of what it did; it raises StepFailed (or lets UvError
through) when the step did not do its job. No handler passes decisions to another: what a step needs
to know comes from the plan.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from envdoctor.apply.request import PYPI, Sources
from envdoctor.errors import EnvdoctorError
from envdoctor.plan import Plan
from envdoctor.strategies import Step
from envdoctor.strategies.common import HELD
from envdoctor.uv import Indexes, Uv, write_config

Progress = Callable[[str], None]


class StepFailed(EnvdoctorError, RuntimeError):
    """A step did not do its job; the message is the user's sentence."""

    code = "step-failed"
    exit_code = 1


@dataclass(frozen=True)
class StepContext:
    plan: Plan
    uv: Uv
    sources: Sources
    work: Path
    """A scratch folder for this run (constraint files, the stub wheel, a downloaded sdist)."""
    cache: Path
    """envdoctor's lasting cache (the wheelhouse)."""

    @property
    def python(self) -> Path:
        return self.plan.target.python

    def write(self, name: str, lines: tuple[str, ...] | list[str]) -> Path:
        path = self.work / name
        path.write_text("\n".join(lines) + "\n")
        return path

    def indexes(self, step: Step) -> Indexes:
        base = self.sources.indexes
        return Indexes(
            index_url=base.index_url,
            extra_index_urls=base.extra_index_urls,
            find_links=(*step.find_links, *base.find_links),
            strategy=base.strategy,
            no_index=base.no_index,
        )

    def common_extra(self, step: Step) -> list[str]:
        extra: list[str] = []
        if step.build_constraints:
            extra += ["--build-constraints", str(self.write("build-constraints.txt", step.build_constraints))]
        for name in step.reinstall:
            extra += ["--reinstall-package", name]
        for name in step.only_binary:
            extra += ["--only-binary", name]
        if step.extra_build:
            extra += ["--config-file", str(write_config(self.work, step.extra_build))]
        return extra


def uninstall(ctx: StepContext, step: Step) -> str:
    ctx.uv.pip_uninstall(ctx.python, list(step.packages))
    return "removed " + ", ".join(step.packages)


def local_torch(torch: Indexes | None) -> list[str]:
    """`name==version` of the torch/torchvision wheels in find-links folders, when no torch index is given."""
    if torch is None or torch.extra_index_urls or not torch.find_links:
        return []
    from packaging.utils import parse_wheel_filename

    found: dict[str, str] = {}
    for folder in torch.find_links:
        for whl in sorted(Path(folder).glob("torch*.whl")):
            name, version, _b, _t = parse_wheel_filename(whl.name)
            if name in HELD:
                found.setdefault(str(name), str(version))
    return [f"{n}=={v}" for n, v in found.items()]


def torch(ctx: StepContext, step: Step) -> str:
    rset = ctx.plan.requirement_set
    reqs = local_torch(ctx.sources.torch) or [f"torch{rset.torch}" if rset else "torch", "torchvision"]
    if ctx.sources.torch is not None:
        ctx.uv.pip_install(ctx.python, reqs, indexes=ctx.sources.torch)
        given = ctx.sources.torch.extra_index_urls or ctx.sources.torch.find_links
        where = "the torch index given" if given else str(ctx.sources.torch.index_url)
    else:
        ctx.uv.pip_install(ctx.python, reqs, extra=["--torch-backend", "auto"])
        where = "uv's --torch-backend auto (the index for this machine's driver)"
    return f"installed torch and torchvision from {where}"


def torchvision(ctx: StepContext, step: Step) -> str:
    """The torchvision release made for the held torch, from the index that serves that torch."""
    torch_pin = next(c for c in step.constraints if c.startswith("torch=="))
    cons = [ctx.write("torch-held.txt", [torch_pin])]
    indexes = ctx.sources.torch
    if indexes is None:
        base = ctx.sources.indexes.index_url or PYPI
        # Only the torch index's torchvision counts (first-index); the rest of its needs come from the base.
        extra = (step.index_url,) if step.index_url and step.index_url != base else ()
        indexes = Indexes(index_url=base, extra_index_urls=extra, strategy="first-index" if extra else None)
    ctx.uv.pip_install(ctx.python, list(step.packages), constraints=cons, indexes=indexes)
    return f"installed {', '.join(step.packages)} beside {torch_pin}"


def install(ctx: StepContext, step: Step) -> str:
    extra = ctx.common_extra(step)
    if step.excludes:
        extra += ["--excludes", str(ctx.write("excludes.txt", step.excludes))]
    cons = [ctx.write("constraints.txt", step.constraints)] if step.constraints else []
    ctx.uv.pip_install(ctx.python, list(step.packages), constraints=cons, indexes=ctx.indexes(step), extra=extra)
    return f"installed {len(step.packages)} requirements and their dependencies"


def _kept_stub_wheel(ctx: StepContext, lockfile: Path) -> Path | None:
    """The wheel of the kept stub for the mmcv-lite the lockfile pins, if one is current."""
    from envdoctor.lock import pins
    from envdoctor.stub.kept import load_kept
    from envdoctor.stub.wheel import build_wheel

    version = next((p.split("==", 1)[1] for p in pins(lockfile) if p.startswith("mmcv-lite==")), None)
    kept = load_kept(version) if version else None
    return build_wheel(kept, ctx.work / "stub") if kept is not None else None


def install_lock(ctx: StepContext, step: Step) -> str:
    assert step.lockfile
    lockfile = Path(step.lockfile)
    # --no-deps and --require-hashes (pip_install_locked): the lockfile is the whole closure except the
    # held torch, which stays as it is, and every artifact must match its recorded hash.
    extra = ctx.common_extra(step)
    wants_stub = any(s.kind == "stub" for s in ctx.plan.steps)
    stub_wheel = _kept_stub_wheel(ctx, lockfile) if wants_stub else None
    requirements = []
    if stub_wheel is not None:
        # The stub rides in the same uv transaction as the pins: one resolve, one install.
        requirements.append(str(stub_wheel))
        extra += ["--reinstall-package", "mmcv-ext-stub"]
    ctx.uv.pip_install_locked(ctx.python, lockfile, wheels=requirements, indexes=ctx.indexes(step), extra=extra)
    with_stub = " and the kept `_ext` stub" if stub_wheel is not None else ""
    return f"installed the pins of {lockfile.name}{with_stub}"


def stub(ctx: StepContext, step: Step) -> str:
    from envdoctor import stub as stub_lib

    # The lockfile step may have installed the kept stub with the pins: confirm it on disk. Anything
    # else (no lockfile, no kept stub, another mmcv) gets a stub generated from the target's own mmcv.
    state = stub_lib.status(ctx.plan.target)
    if state.ext_state == "stub" and state.header.get("mmcv") == state.mmcv_version:
        return f"stub for mmcv {state.mmcv_version} in place"
    result = stub_lib.install(ctx.plan.target, uv=ctx.uv)
    return f"stub {result.action}"


def unstub(ctx: StepContext, step: Step) -> str:
    from envdoctor import stub as stub_lib

    stub_lib.remove(ctx.plan.target, uv=ctx.uv)
    return "stub removed"


def dwpose(ctx: StepContext, step: Step) -> str:
    from envdoctor import dwpose as dwpose_lib

    # A lasting folder, so the snapshot of a later run can reinstall this exact wheel.
    wheel = dwpose_lib.build_wheel(ctx.cache / "wheelhouse" / "dwpose")
    # The wheel keeps its version while its content follows envdoctor: make uv take this build.
    ctx.uv.pip_install(
        ctx.python, dwpose_lib.requirements(wheel), extra=["--no-deps", "--reinstall-package", dwpose_lib.DIST_NAME]
    )
    return f"installed {wheel.name}"


def build_mmcv(ctx: StepContext, step: Step) -> str:
    """Build from the PyPI sdist against the target's torch into the local wheelhouse (envdoctor.build)."""
    from envdoctor import build

    return build.run_step(step, ctx.uv, ctx.python, ctx.work)


def provide_ffmpeg(ctx: StepContext, step: Step) -> str:
    """ffmpeg for MuseTalk without root: the wheel's binary linked into the environment's bin. A rollback
    uninstalls the wheel (not in the snapshot) and removes the link (a file no distribution owns)."""
    from envdoctor.tools import ffmpeg

    try:
        done = ffmpeg.provide_ffmpeg(ctx.python, uv=ctx.uv, indexes=ctx.indexes(step))
    except ffmpeg.FfmpegError as exc:
        raise StepFailed(str(exc)) from exc
    return done.summary()


Handler = Callable[[StepContext, Step], str]

# Step kind -> handler. The verify step is not here: the transaction runs it after every change.
HANDLERS: dict[str, Handler] = {
    "uninstall": uninstall,
    "torch": torch,
    "torchvision": torchvision,
    "build-mmcv": build_mmcv,
    "build-wheel": build_mmcv,
    "install": install,
    "install-lock": install_lock,
    "stub": stub,
    "unstub": unstub,
    "dwpose": dwpose,
    "provide-ffmpeg": provide_ffmpeg,
}
