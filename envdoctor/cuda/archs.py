"""GPU architectures: parsed from `--cuda-arch` / TORCH_CUDA_ARCH_LIST, checked against torch's CUDA release.

A CUDA 13 toolkit compiles nothing below sm_75, and sm_120 (RTX 50) needs CUDA 12.8 or newer: a build asked
for an architecture its release cannot make would fail minutes in, or worse, succeed without the kernels the
GPU needs. So the list is refused up front, naming the torch variant that does serve the architecture.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

from envdoctor.datafiles import load
from envdoctor.errors import EnvdoctorError


class ArchRefused(EnvdoctorError, ValueError):
    """An architecture torch's CUDA release cannot compile for (or one that is not an architecture)."""

    code = "cuda-arch-refused"
    exit_code = 2


@dataclass(frozen=True, order=True)
class Arch:
    """One compute capability, as TORCH_CUDA_ARCH_LIST writes it ("9.0", "12.0+PTX")."""

    major: int
    minor: int
    ptx: bool = False
    """Also embed PTX, which a newer GPU's driver can compile at load time."""
    variant: str = ""
    """"a" (sm_90a: this GPU only) or "f" (a family), the architecture-specific features; "" for none."""

    @property
    def capability(self) -> str:
        return f"{self.major}.{self.minor}"

    @property
    def sm(self) -> int:
        """The number in sm_XY / compute_XY (and in a cubin's header)."""
        return self.major * 10 + self.minor

    def __str__(self) -> str:
        return self.capability + self.variant + ("+PTX" if self.ptx else "")


_ONE = re.compile(r"(?:sm_)?(\d{1,2})\.?(\d)([af]?)(\+PTX)?", re.IGNORECASE)


def parse(text: str) -> tuple[Arch, ...]:
    """`"9.0;12.0+PTX"`, `"8.6 8.9"`, `"9.0a"`, `"sm_90,sm_120"`: the architectures, sorted, without repeats."""
    parts = [p for p in re.split(r"[;,\s]+", text.strip()) if p]
    if not parts:
        raise ArchRefused("no CUDA architecture given: write them as TORCH_CUDA_ARCH_LIST does, e.g. '8.6;9.0'")
    found: set[Arch] = set()
    for part in parts:
        m = _ONE.fullmatch(part)
        if not m:
            raise ArchRefused(
                f"{part!r} is not a CUDA architecture: write a compute capability such as 8.6, 9.0 or 12.0+PTX"
            )
        found.add(Arch(int(m.group(1)), int(m.group(2)), ptx=bool(m.group(4)), variant=m.group(3).lower()))
    return tuple(sorted(found))


@dataclass(frozen=True)
class Release:
    cuda: str
    archs: frozenset[str]


@cache
def releases() -> tuple[Release, ...]:
    return tuple(Release(r["cuda"], frozenset(r["archs"])) for r in load("cuda.toml")["release"])


def _variant(cuda: str) -> str:
    major, _, minor = cuda.partition(".")
    return f"cu{major}{minor}"


def release_for(cuda: str) -> Release | None:
    """The table's entry for torch's CUDA release ("13.0", from torch.version.cuda); None for one it lacks."""
    return next((r for r in releases() if r.cuda == cuda), None)


def serving_variant(arch: Arch) -> str | None:
    """The newest torch variant whose own kernels run on `arch` (same major, a minor at or below it) and whose
    CUDA release can compile an extension for it; None when no variant envdoctor knows does."""
    for v in load("cuda.toml")["variant"]:
        runs = any(_key(c)[0] == arch.major and _key(c) <= (arch.major, arch.minor) for c in v["torch_archs"])
        compiles = any(r.cuda == v["cuda"] and arch.capability in r.archs for r in releases())
        if runs and compiles:
            return str(v["name"])
    return None


def check_buildable(archs: tuple[Arch, ...], cuda: str) -> tuple[Arch, ...]:
    """`archs` when CUDA `cuda` can compile every one of them; else ArchRefused with the reason and what serves it.

    A release missing from envdoctor/data/cuda.toml is not refused: nvcc itself is then the judge."""
    release = release_for(cuda)
    if release is None:
        return archs
    refused = [a for a in archs if a.capability not in release.archs]
    if not refused:
        return archs
    ours = _variant(cuda)
    each = []
    for a in refused:
        variant = serving_variant(a)
        if variant and variant != ours:
            each.append(f"sm_{a.sm} ({a.capability}) is served by torch's {variant} build")
        else:
            each.append(f"sm_{a.sm} ({a.capability}) by no torch build envdoctor knows")
    low, high = min(release.archs, key=_key), max(release.archs, key=_key)
    raise ArchRefused(
        f"CUDA {cuda} (torch's {ours}) compiles for {low} to {high} only; "
        + "; ".join(each)
        + ": install that torch, or leave those GPUs out of --cuda-arch"
    )


def _key(capability: str) -> tuple[int, int]:
    major, _, minor = capability.partition(".")
    return int(major), int(minor)
