"""The step handlers: one small function per step type, looked up by type in HANDLERS.

Each handler gets the StepContext (the plan, uv, a scratch folder) and its own step, changes the target
through uv, and returns one sentence of what it did; it raises StepFailed (or lets UvError through) when
the step did not do its job. A handler decides nothing: what it does is in its step's fields, decided
when the plan was built, and no handler looks at another step.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from envdoctor import build, dwpose
from envdoctor import stub as stub_lib
from envdoctor.errors import EnvdoctorError
from envdoctor.plan import Plan
from envdoctor.steps import (
    BuildMmcv,
    BuildWheel,
    Dwpose,
    Install,
    InstallLock,
    InstallTorch,
    InstallTorchvision,
    ProvideFfmpeg,
    SdistBuild,
    Step,
    Stub,
    Uninstall,
    Unstub,
)
from envdoctor.stub.kept import load_kept
from envdoctor.stub.wheel import build_wheel, wheel_folder
from envdoctor.tools import ffmpeg
from envdoctor.uv import Indexes, Uv, write_config

Progress = Callable[[str], None]


class StepFailed(EnvdoctorError, RuntimeError):
    """A step did not do its job; the message is the user's sentence."""

    code = "step-failed"
    exit_code = 1


class StepStatus:
    """What a long step says of its progress while it runs ("37/136 objects compiled"): set by its handler
    from a reader thread, read by the transaction's ticker. One str assignment, so no lock."""

    def __init__(self) -> None:
        self.text = ""

    def set(self, text: str) -> None:
        self.text = text


@dataclass(frozen=True)
class StepContext:
    plan: Plan
    uv: Uv
    work: Path
    """A scratch folder for this run (constraint files, the stub wheel, a downloaded sdist)."""
    cache: Path
    """envdoctor's lasting cache (the wheelhouse)."""
    status: StepStatus = field(default_factory=StepStatus)

    @property
    def python(self) -> Path:
        return self.plan.target.python

    def write(self, name: str, lines: tuple[str, ...] | list[str]) -> Path:
        path = self.work / name
        path.write_text("\n".join(lines) + "\n")
        return path

    def indexes(self, find_links: tuple[str, ...] = ()) -> Indexes:
        """The plan's indexes for everything but torch, with a step's own find-links first."""
        base = self.plan.sources.indexes
        return Indexes(
            index_url=base.index_url,
            extra_index_urls=base.extra_index_urls,
            find_links=(*find_links, *base.find_links),
            strategy=base.strategy,
            no_index=base.no_index,
        )

    def common_extra(self, step: Install | InstallLock) -> list[str]:
        extra: list[str] = []
        if step.build_constraints:
            extra += ["--build-constraints", str(self.write("build-constraints.txt", step.build_constraints))]
        for name in step.reinstall:
            extra += ["--reinstall-package", name]
        for name in step.only_binary if isinstance(step, Install) else ():
            extra += ["--only-binary", name]
        if step.extra_build:
            extra += ["--config-file", str(write_config(self.work, step.extra_build))]
        return extra


def uninstall(ctx: StepContext, step: Uninstall) -> str:
    ctx.uv.pip_uninstall(ctx.python, list(step.packages))
    return "removed " + ", ".join(step.packages)


def torch(ctx: StepContext, step: InstallTorch) -> str:
    if step.indexes is not None:
        ctx.uv.pip_install(ctx.python, list(step.requirements), indexes=step.indexes)
    else:
        ctx.uv.pip_install(ctx.python, list(step.requirements), extra=["--torch-backend", "auto"])
    return f"installed torch and torchvision from {step.source}"


def torchvision(ctx: StepContext, step: InstallTorchvision) -> str:
    """The torchvision release made for the held torch, from the index the plan bound to this step."""
    cons = [ctx.write("torch-held.txt", [step.torch_pin])]
    ctx.uv.pip_install(ctx.python, [step.requirement], constraints=cons, indexes=step.indexes)
    return f"installed {step.requirement} beside {step.torch_pin}"


def install(ctx: StepContext, step: Install) -> str:
    extra = ctx.common_extra(step)
    if step.excludes:
        extra += ["--excludes", str(ctx.write("excludes.txt", step.excludes))]
    cons = [ctx.write("constraints.txt", step.constraints)] if step.constraints else []
    ctx.uv.pip_install(
        ctx.python, list(step.packages), constraints=cons, indexes=ctx.indexes(step.find_links), extra=extra
    )
    return f"installed {len(step.packages)} requirements and their dependencies"


def install_lock(ctx: StepContext, step: InstallLock) -> str:
    lockfile = Path(step.lockfile)
    # --no-deps and --require-hashes (pip_install_locked): the lockfile is the whole closure except the
    # held torch, which stays as it is, and every artifact must match its recorded hash.
    extra = ctx.common_extra(step)
    wheels = []
    if step.kept_stub is not None:
        kept = load_kept(step.kept_stub)
        if kept is None:
            raise StepFailed(f"the kept `_ext` stub for mmcv-lite {step.kept_stub} the plan named is no longer current")
        # The stub rides in the same uv transaction as the pins: one resolve, one install. Its wheel is
        # kept in the wheelhouse, where `envdoctor lock` finds it for a deployment.
        wheels.append(str(build_wheel(kept, wheel_folder(ctx.cache))))
        extra += ["--reinstall-package", "mmcv-ext-stub"]
    ctx.uv.pip_install_locked(ctx.python, lockfile, wheels=wheels, indexes=ctx.indexes(), extra=extra)
    with_stub = " and the kept `_ext` stub" if wheels else ""
    return f"installed the pins of {lockfile.name}{with_stub}"


def stub(ctx: StepContext, step: Stub) -> str:
    state = stub_lib.status(ctx.plan.target)
    if step.kept is not None:  # the locked install brought it: confirm it on disk
        if state.ext_state == "stub" and state.header.get("mmcv") == state.mmcv_version:
            return f"stub for mmcv {state.mmcv_version} in place"
        raise StepFailed(
            f"the kept `_ext` stub for mmcv-lite {step.kept} is not in place after the locked install "
            f"(found: {state.ext_state or 'no mmcv._ext'})"
        )
    result = stub_lib.install(ctx.plan.target, uv=ctx.uv)
    return f"stub {result.action}"


def unstub(ctx: StepContext, step: Unstub) -> str:
    stub_lib.remove(ctx.plan.target, uv=ctx.uv)
    return "stub removed"


def dwpose_port(ctx: StepContext, step: Dwpose) -> str:
    # A lasting folder, so the snapshot of a later run can reinstall this exact wheel.
    wheel = dwpose.build_wheel(ctx.cache / "wheelhouse" / "dwpose")
    # The wheel keeps its version while its content follows envdoctor: make uv take this build.
    ctx.uv.pip_install(
        ctx.python, dwpose.requirements(wheel), extra=["--no-deps", "--reinstall-package", dwpose.DIST_NAME]
    )
    return f"installed {wheel.name}"


def sdist_build(ctx: StepContext, step: SdistBuild) -> str:
    """Build from the PyPI sdist against the target's torch into the local wheelhouse (envdoctor.build)."""
    return build.run_step(step, ctx.uv, ctx.python, ctx.work, ctx.status.set)


def provide_ffmpeg(ctx: StepContext, step: ProvideFfmpeg) -> str:
    """ffmpeg for MuseTalk without root: the wheel's binary linked into the environment's bin. A rollback
    uninstalls the wheel (not in the snapshot) and removes the link (a file no distribution owns)."""
    try:
        done = ffmpeg.provide_ffmpeg(ctx.python, uv=ctx.uv, indexes=ctx.indexes())
    except ffmpeg.FfmpegError as exc:
        raise StepFailed(str(exc)) from exc
    return done.summary()


Handler = Callable[[StepContext, Any], str]

# Step type -> handler. Verify is not here: the transaction runs the check after every change.
HANDLERS: dict[type[Step], Handler] = {
    Uninstall: uninstall,
    InstallTorch: torch,
    InstallTorchvision: torchvision,
    BuildMmcv: sdist_build,
    BuildWheel: sdist_build,
    Install: install,
    InstallLock: install_lock,
    Stub: stub,
    Unstub: unstub,
    Dwpose: dwpose_port,
    ProvideFfmpeg: provide_ffmpeg,
}


def run(ctx: StepContext, step: Step) -> str:
    """Carry out one step with the handler of its type."""
    return HANDLERS[type(step)](ctx, step)
