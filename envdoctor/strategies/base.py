"""What every strategy shares: the context it judges, the interface, and its verdict.

A strategy is one class behind `Strategy`: what it installs for a requirement set, what its lockfiles
hold, and `judge(ctx)`, which is either a Candidate carrying its steps or a Rejection carrying its reasons.
Reasons are written for the user ("no mmcv wheel for torch 2.13"), not for the code.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from packaging.version import Version

from envdoctor.facts import Facts
from envdoctor.steps import Step
from envdoctor.strategies.sets import RequirementSet

CHOSEN, POSSIBLE, REJECTED = "chosen", "possible", "rejected"


@dataclass(frozen=True)
class Options:
    """What the user asked for on the command line."""

    find_links: tuple[Path, ...] = ()
    build: bool = False
    wheelhouse: Path | None = None
    allow_torch_change: bool = False
    strategy: str | None = None
    """Force one strategy by name; the others are still judged and explained."""
    lockfile: Path | None = None
    """Install from this lockfile instead of the committed one that matches the target."""
    resolve: bool = False
    """Ignore the committed lockfiles: resolve the requirement set with uv now."""
    wheel_indexes: tuple[str, ...] = ()
    """PEP 503 indexes of prebuilt (labelled) wheels the user opted into (`--wheel-index URL`)."""
    wheel_sources: tuple[str, ...] = ()
    """Known third-party wheel sources enabled by name (`--wheel-source NAME`, envdoctor/data/wheels.toml)."""
    cuda_arch: str | None = None
    """TORCH_CUDA_ARCH_LIST for a CUDA build, when not taken from the visible GPUs."""
    cuda_arch_from: str | None = None
    """Where `cuda_arch` came from: --cuda-arch or TORCH_CUDA_ARCH_LIST."""


@dataclass(frozen=True)
class Context:
    """The facts a strategy needs, already interpreted (versions parsed, accelerator named). from_facts
    keeps what the probes did not say unsaid: "" in the text fields, None in the others."""

    python_version: str
    python_tag: str
    os: str  # linux | windows | macos
    machine: str
    torch: Version | None
    torchvision: Version | None
    accelerator: str | None
    """cpu, cuXYZ (from torch's build), or None without torch."""
    gpus: tuple[tuple[str, str], ...]
    """(name, compute capability) of the visible GPUs."""
    nvcc: str | None
    installed: dict[str, str]
    ext_state: str | None
    externally_managed: bool
    options: Options = field(default_factory=Options)
    glibc: str | None = None
    mac_ver: str | None = None

    @property
    def torch_series(self) -> str | None:
        return f"{self.torch.major}.{self.torch.minor}" if self.torch else None

    @property
    def python_series(self) -> str:
        return ".".join(self.python_version.split(".")[:2])

    def has(self, name: str) -> bool:
        return name in self.installed

    @classmethod
    def from_facts(cls, facts: Facts, options: Options | None = None) -> Context:
        torch_v = facts.version("torch")
        py, plat = facts.python, facts.platform
        return cls(
            python_version=py.version or "",
            python_tag=py.cp_tag or "",
            os=_os_name(plat.system or ""),
            machine=(plat.machine or "").lower(),
            torch=torch_v,
            torchvision=facts.version("torchvision"),
            accelerator=accelerator_of(torch_v, facts.torch.cuda if facts.torch else None) if torch_v else None,
            gpus=tuple((g.name, g.compute_capability) for g in facts.visible_gpus),
            nvcc=facts.nvcc.version,
            installed={d.key: d.version for d in facts.distributions.values()},
            ext_state=facts.mmcv.ext.state,
            externally_managed=bool(py.externally_managed),
            options=options or Options(),
            glibc=plat.glibc,
            mac_ver=plat.mac_ver,
        )


def _os_name(system: str) -> str:
    return {"Linux": "linux", "Windows": "windows", "Darwin": "macos"}.get(system, system.lower())


def accelerator_of(torch: Version, cuda: str | None) -> str:
    """cpu or cuXYZ: from torch's local version (+cpu, +cu121), else from torch.version.cuda."""
    local = torch.local or ""
    if local == "cpu" or local.startswith("cu") or local.startswith("rocm"):
        return local
    if cuda:
        return "cu" + cuda.replace(".", "")[:3]
    return "cpu"


@dataclass(frozen=True)
class Candidate:
    """A strategy that works for this target, with the steps that give it."""

    strategy: str
    reasons: tuple[str, ...]
    summary: str
    """One line: what this strategy would give the user."""
    steps: tuple[Step, ...]
    chosen: bool = False
    """Set by the plan on the one candidate it runs."""

    viable: ClassVar[bool] = True

    @property
    def status(self) -> str:
        return CHOSEN if self.chosen else POSSIBLE

    def to_dict(self) -> dict[str, Any]:
        return _verdict_dict(self)


@dataclass(frozen=True)
class Rejection:
    """A strategy that does not work for this target, and why, in the user's words."""

    strategy: str
    reasons: tuple[str, ...]
    summary: str

    viable: ClassVar[bool] = False
    status: ClassVar[str] = REJECTED

    def to_dict(self) -> dict[str, Any]:
        return _verdict_dict(self)


StrategyVerdict = Candidate | Rejection


def _verdict_dict(v: StrategyVerdict) -> dict[str, Any]:
    return {"strategy": v.strategy, "status": v.status, "summary": v.summary, "reasons": list(v.reasons)}


@dataclass(frozen=True)
class LockPackages:
    """What a strategy puts into a lockfile of envdoctor's matrix."""

    requirements: tuple[str, ...]
    find_links: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    """Said in the lockfile's header: what fix adds after the pins."""


class Strategy(ABC):
    """One way to give MuseTalk a working `mmpose`. `plan` and `lock` iterate over these and name none."""

    name: ClassVar[str]
    rank: ClassVar[int]
    """Lower is preferred when several are viable."""
    description: ClassVar[str]

    @abstractmethod
    def judge(self, ctx: Context) -> StrategyVerdict:
        """A Candidate carrying its steps, or a Rejection carrying its reasons."""

    @abstractmethod
    def installs(self, rset: RequirementSet, mmcv: str | None = None) -> tuple[str, ...]:
        """The requirements this strategy installs for a requirement set (mmcv: the version it found)."""

    @abstractmethod
    def lock_packages(self, rset: RequirementSet, python: str, os: str, accelerator: str,
                      torch_series: str | None) -> LockPackages:  # fmt: skip
        """What a lockfile of envdoctor's matrix holds for this strategy (ValueError: no such cell)."""

    def steps(self, ctx: Context) -> tuple[Step, ...]:
        """The steps of a viable verdict (ValueError when the strategy rejects the target)."""
        verdict = self.judge(ctx)
        if isinstance(verdict, Rejection):
            raise ValueError(f"{self.name} does not work for this target: " + "; ".join(verdict.reasons))
        return verdict.steps

    def candidate(self, ctx: Context, reasons: tuple[str, ...] | list[str], steps: tuple[Step, ...]) -> Candidate:
        return Candidate(self.name, tuple(reasons), self.description, steps)

    def reject(self, *reasons: str) -> Rejection:
        return Rejection(self.name, reasons, self.description)
