"""What every strategy shares: the context it judges, its verdict, and the steps it gives.

A strategy is a small object with a name, `judge(ctx) -> Verdict` and `steps(ctx) -> tuple[Step, ...]`.
Verdict reasons are written for the user ("no mmcv wheel for torch 2.13"), not for the code.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from envdoctor.facts import Facts

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
class Verdict:
    strategy: str
    status: str  # chosen | possible | rejected
    reasons: tuple[str, ...]
    summary: str
    """One line: what this strategy would give the user."""

    @property
    def viable(self) -> bool:
        return self.status != REJECTED

    def to_dict(self) -> dict[str, Any]:
        return {
            "strategy": self.strategy,
            "status": self.status,
            "summary": self.summary,
            "reasons": list(self.reasons),
        }


@dataclass(frozen=True)
class Step:
    """One thing `fix` does. `kind` picks its handler in envdoctor/apply/steps.py."""

    kind: str
    """uninstall | install | install-lock | torch | torchvision | build-mmcv | build-wheel | stub | dwpose |
    provide-ffmpeg | verify"""
    summary: str
    packages: tuple[str, ...] = ()
    constraints: tuple[str, ...] = ()
    build_constraints: tuple[str, ...] = ()
    excludes: tuple[str, ...] = ()
    reinstall: tuple[str, ...] = ()
    find_links: tuple[str, ...] = ()
    only_binary: tuple[str, ...] = ()
    """Packages uv must take from a wheel: never a silent source build."""
    extra_build: tuple[tuple[str, tuple[str, ...]], ...] = ()
    """(package, build requirements its sdist does not declare), for uv's extra-build-dependencies."""
    lockfile: str | None = None
    env: tuple[tuple[str, str], ...] = ()
    index_url: str | None = None
    """The index this step's packages come from, when it is not the one for everything else."""
    long: bool = False
    """Minutes rather than seconds: apply shows progress."""

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind, "summary": self.summary}
        for key in (
            "packages",
            "constraints",
            "build_constraints",
            "excludes",
            "reinstall",
            "find_links",
            "only_binary",
        ):
            value = getattr(self, key)
            if value:
                out[key] = list(value)
        if self.lockfile:
            out["lockfile"] = self.lockfile
        if self.env:
            out["env"] = dict(self.env)
        if self.index_url:
            out["index_url"] = self.index_url
        if self.extra_build:
            out["extra_build"] = {name: list(reqs) for name, reqs in self.extra_build}
        return out


class Strategy(Protocol):
    name: str
    rank: int
    """Lower is preferred when several are viable."""
    description: str

    def judge(self, ctx: Context) -> Verdict: ...

    def steps(self, ctx: Context) -> tuple[Step, ...]: ...


def req_name(requirement: str) -> str:
    return canonicalize_name(Requirement(requirement).name)
