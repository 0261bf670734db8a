"""Which mmcv wheel fits a target: by what the wheel says, never by where it lies.

A candidate fits when its torch label names the target's torch and compute platform (exactly as the
source's convention defines them), one of its tags is among the target's supported tags (Python,
ABI, platform; computed with packaging.tags), and its version is inside every import-time window of
the pinned mmdet / mmpose. Every candidate that does not fit is kept with the reason, so `plan` can
list near misses instead of a bare "no wheel".
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from packaging import tags
from packaging.tags import Tag
from packaging.utils import InvalidWheelFilename, canonicalize_name, parse_wheel_filename
from packaging.version import Version

from envdoctor.cuda.fatbin import DeviceCode
from envdoctor.versionwindows import window_problems
from envdoctor.wheellabel import TorchLabel, parse_label

RELEASE, SERIES = "release", "series"


@dataclass(frozen=True)
class Want:
    """The target, as a wheel must fit it."""

    torch: Version
    platform: str
    """Compute platform of the installed torch: cpu, cuXYZ, rocmX.Y."""
    python_tag: str
    tags: frozenset[Tag]
    where: str
    """The target's OS and machine in words ("linux x86_64"), for reasons."""
    openmmlab: tuple[str, ...] = ()
    """Pinned mmdet / mmpose requirements whose mmcv windows a wheel must fit."""
    preferred: str | None = None
    """The mmcv the requirement set pins; chosen first among fitting wheels."""
    gpus: tuple[int, ...] = ()
    """The GPUs a CUDA wheel must have kernels for, as sm numbers (90): --cuda-arch, else the visible ones."""


@dataclass(frozen=True)
class Candidate:
    filename: str
    location: str
    """A path or a URL."""
    version: Version
    label: TorchLabel | None
    tags: frozenset[Tag]
    device: DeviceCode | None = None
    """What the wheel's `_ext` holds, from the build record of a local wheel envdoctor built; None: not
    known (a remote wheel, a CPU build, another builder's wheel)."""


@dataclass(frozen=True)
class NearMiss:
    filename: str
    reason: str


@dataclass(frozen=True)
class Selection:
    chosen: Candidate | None
    near_misses: tuple[NearMiss, ...]


def _arch(os: str, machine: str) -> str:
    """The machine as wheel tags spell it: x86_64/aarch64 on Linux, arm64 on macOS."""
    return {"amd64": "x86_64", "arm64": "aarch64" if os == "linux" else "arm64"}.get(machine.lower(), machine.lower())


def built_platform(os: str, machine: str) -> str:
    """The platform tag of a wheel built on this target (no manylinux repair): linux_x86_64, win_amd64,
    macosx_*_arm64 (the macOS version is whatever the build machine says)."""
    arch = _arch(os, machine)
    if os == "windows":
        return {"x86_64": "win_amd64", "arm64": "win_arm64", "aarch64": "win_arm64"}.get(arch, f"win_{arch}")
    if os == "macos":
        return f"macosx_*_{arch}"
    return f"{os}_{arch}"


def target_tags(
    python_tag: str, os: str, machine: str, glibc: str | None = None, mac_ver: str | None = None
) -> frozenset[Tag]:
    """Every tag a CPython of `python_tag` on this OS/machine installs (packaging.tags, fed the target's facts).

    packaging computes a platform list only for the interpreter it runs in; envdoctor runs outside the
    target, so the platform list is built from the target's probed libc / macOS version.
    """
    arch = _arch(os, machine)
    platforms: list[str]
    if os == "linux":
        glibc_minor = int(glibc.split(".")[1]) if glibc and glibc.startswith("2.") else 17
        platforms = [f"manylinux_2_{m}_{arch}" for m in range(glibc_minor, 4, -1)]
        legacy = {17: "manylinux2014", 12: "manylinux2010", 5: "manylinux1"}
        platforms += [f"{legacy[m]}_{arch}" for m in legacy if m <= glibc_minor]
        platforms.append(f"linux_{arch}")
    elif os == "macos":
        parts = (mac_ver or "11.0").split(".")
        platforms = list(tags.mac_platforms((int(parts[0]), int(parts[1]) if len(parts) > 1 else 0), arch))
    elif os == "windows":
        platforms = [built_platform(os, machine)]
    else:
        platforms = []
    return tags_for(python_tag, platforms)


def tags_for(python_tag: str, platforms: Sequence[str]) -> frozenset[Tag]:
    """Every tag CPython `python_tag` ("cp313") installs on `platforms`, in packaging's own terms."""
    version = (int(python_tag[2]), int(python_tag[3:]))
    out = set(tags.cpython_tags(version, abis=[python_tag], platforms=platforms))
    out.update(tags.compatible_tags(version, python_tag, platforms))
    return frozenset(out)


def candidate(filename: str, location: str, folder_label: TorchLabel | None = None) -> Candidate | None:
    """The mmcv wheel named `filename`, or None for anything else (another package, not a wheel).

    `folder_label`: for a source whose convention puts the torch in the folder (OpenMMLab), the label
    its page stands for.
    """
    try:
        name, version, _build, wheel_tags = parse_wheel_filename(filename)
    except InvalidWheelFilename:
        return None
    if canonicalize_name(name) != "mmcv":
        return None
    label = folder_label or parse_label(version.local)
    return Candidate(filename, location, version, label, frozenset(wheel_tags))


def _tag_reason(cand: Candidate, want: Want) -> str | None:
    if cand.tags & want.tags:
        return None
    pythons = sorted({f"{t.interpreter}-{t.abi}" for t in cand.tags})
    platforms = sorted({t.platform for t in cand.tags})
    python_ok = any(
        t.interpreter in (want.python_tag, "py3") and t.abi in (want.python_tag, "abi3", "none") for t in cand.tags
    )
    if python_ok:
        return f"for {', '.join(platforms)}; this target is {want.where}"
    return f"for {', '.join(pythons)}; this target is {want.python_tag}"


def reason(cand: Candidate, want: Want, torch_match: str = RELEASE) -> str | None:
    """Why `cand` does not fit `want`; None when it fits."""
    if cand.label is None:
        return "carries no torch label (+pt<torch><platform>): it does not say which torch it was built for"
    built, have = cand.label.torch, Version(want.torch.base_version)
    if torch_match == SERIES:
        if built.release[:2] != have.release[:2]:
            return f"built for torch {built.major}.{built.minor}; this target has torch {have}"
    elif built.release != have.release:
        return f"built for torch {built}; this target has torch {have}"
    if cand.label.platform != want.platform:
        return f"built for {cand.label.platform}; this torch is {want.platform}"
    tag_reason = _tag_reason(cand, want)
    if tag_reason:
        return tag_reason
    device = cand.device
    lacking = [sm for sm in want.gpus if device is not None and not device.runs_on(sm)]
    if device is not None and lacking:
        need = ", ".join(f"sm_{s}" for s in lacking)
        return f"its _ext holds kernels for {device.describe() or 'no GPU'}, none for {need}"
    problems = window_problems(cand.version.public, want.openmmlab)
    if problems:
        return f"mmcv {cand.version.public} is outside a window: " + "; ".join(problems)
    return None


def select(candidates: Iterable[Candidate], want: Want, torch_match: str = RELEASE) -> Selection:
    """The best fitting wheel (the pinned mmcv first, then the newest) and every near miss with its reason."""
    fits: list[Candidate] = []
    near: list[NearMiss] = []
    for cand in candidates:
        why = reason(cand, want, torch_match)
        if why is None:
            fits.append(cand)
        else:
            near.append(NearMiss(cand.filename, why))
    chosen = max(
        fits, key=lambda c: (c.version.public == want.preferred, Version(c.version.public), c.filename), default=None
    )
    return Selection(chosen, tuple(near))


def describe(version: str, label: TorchLabel, python_tag: str, platform_tag: str) -> str:
    """The wheel a source would have to carry, in words: `mmcv 2.1.0+pt2.13.0cpu, cp311, linux_x86_64`."""
    return f"mmcv {version}+{label}, {python_tag}, {platform_tag}"
