"""The CUDA toolchain a build of torch extensions uses: nvcc of torch's own CUDA release, and torch's headers.

torch refuses nothing at build time when nvcc's release differs from `torch.version.cuda`; the result is
the "detected CUDA version mismatches the version that was used to compile PyTorch" failure, or kernels
that do not load. So the toolchain is picked by release: the machine's nvcc (CUDA_HOME, else PATH) when
it is torch's release, else the toolkit wheels PyPI publishes for that release (envdoctor/data/cuda.toml,
[[toolkit]]), installed with uv into envdoctor's cache, once per release. Either way the headers of
torch's own CUDA library wheels (site-packages/nvidia/*/include: cusparse.h, cublas_v2.h, which a
toolkit assembled from the compiler wheels lacks) go on the include path of both compilers (CPATH).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from envdoctor import cachedir, process
from envdoctor.datafiles import load
from envdoctor.errors import EnvdoctorError
from envdoctor.inside import run_json
from envdoctor.uv import Uv, UvError


class ToolchainError(EnvdoctorError, RuntimeError):
    """No CUDA toolchain of torch's release could be found or fetched; the message is the user's sentence."""

    code = "cuda-toolchain"
    exit_code = 1


_RELEASE = re.compile(r"release (\d+\.\d+)")
_TOP = re.compile(r"^#\$ TOP=(.+)$", re.MULTILINE)

_TORCH_CUDA = r"""
import glob, json, os, site, sys
import torch
dirs = [*site.getsitepackages(), os.path.dirname(os.path.dirname(torch.__file__))]
incs = sorted({p for d in dirs for p in glob.glob(os.path.join(d, "nvidia", "*", "include"))})
print(json.dumps({"torch": torch.__version__, "cuda": torch.version.cuda, "includes": incs}))
"""


@dataclass(frozen=True)
class TorchCuda:
    """What a CUDA build has to match, read from the target's torch."""

    torch: str
    cuda: str | None
    """torch.version.cuda ("13.0"); None for a CPU torch."""
    includes: tuple[Path, ...]
    """The include folders of torch's own CUDA library wheels."""


def torch_cuda(python: Path) -> TorchCuda:
    data = run_json(python, ["-c", _TORCH_CUDA], what="asking torch's CUDA", timeout=120, require_exit_zero=True).data
    return TorchCuda(str(data["torch"]), data["cuda"], tuple(Path(p) for p in data["includes"]))


@dataclass(frozen=True)
class MachineToolkit:
    """The machine's own nvcc, of torch's release."""

    nvcc: Path


@dataclass(frozen=True)
class FetchedToolkit:
    """The toolkit wheels of torch's release, in envdoctor's cache."""

    folder: Path
    packages: tuple[str, ...]
    size: int
    """Bytes on disk."""
    fetched_now: bool
    """False when an earlier build had already put it there."""


@dataclass(frozen=True)
class Toolchain:
    cuda: str
    home: Path
    """CUDA_HOME: the folder with bin/nvcc, include/ and lib."""
    includes: tuple[Path, ...]
    source: MachineToolkit | FetchedToolkit
    passed_over: str = ""
    """The machine's nvcc that was not used, and why ("" when it was used, or there was none)."""

    def env(self, base: Mapping[str, str] | None = None) -> dict[str, str]:
        """The build's variables: CUDA_HOME, its nvcc first on PATH, the extra headers on CPATH."""
        env = os.environ if base is None else base
        cpath = [str(p) for p in self.includes] + [p for p in env.get("CPATH", "").split(os.pathsep) if p]
        path = [str(self.home / "bin")] + [p for p in env.get("PATH", "").split(os.pathsep) if p]
        return {"CUDA_HOME": str(self.home), "PATH": os.pathsep.join(path), "CPATH": os.pathsep.join(cpath)}

    def describe(self) -> str:
        if isinstance(self.source, MachineToolkit):
            where = f"the machine's nvcc {self.cuda} ({self.source.nvcc}, CUDA_HOME={self.home})"
        else:
            state = "fetched from PyPI" if self.source.fetched_now else "already"
            where = (
                f"CUDA {self.cuda} from PyPI's toolkit wheels, {state} in {self.source.folder} "
                f"({self.source.size / 1e6:.0f} MB: {', '.join(self.source.packages)})"
            )
        if self.passed_over:
            where += f" ({self.passed_over})"
        return where + ("; torch's CUDA headers from " + ", ".join(map(str, self.includes)) if self.includes else "")


def nvcc_release(nvcc: Path) -> str | None:
    """The CUDA release ("13.0") an nvcc says it is; None when it does not run."""
    try:
        ran = process.run([nvcc, "--version"], timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return None
    m = _RELEASE.search(ran.stdout)
    return m.group(1) if ran.returncode == 0 and m else None


def nvcc_home(nvcc: Path) -> Path:
    """The toolkit folder nvcc itself uses (its TOP), which is not the folder above a wrapper script on PATH
    such as /usr/local/bin/nvcc: torch would take that for CUDA_HOME and find no headers."""
    ran = process.run([nvcc, "--dryrun", "-c", "-x", "cu", os.devnull, "-o", os.devnull], timeout=60)
    m = _TOP.search(ran.stdout + ran.stderr)
    return Path(m.group(1).strip()).resolve() if m else nvcc.resolve().parent.parent


def machine_nvcc(env: Mapping[str, str] | None = None) -> Path | None:
    """The nvcc a build would use: $CUDA_HOME/bin/nvcc (or $CUDA_PATH's), else the first on PATH; the facts
    probe looks in the same order, so the plan names this one. A toolkit elsewhere is taken with CUDA_HOME."""
    env = os.environ if env is None else env
    home = env.get("CUDA_HOME") or env.get("CUDA_PATH")
    nvcc = Path(home or ".") / "bin" / ("nvcc.exe" if os.name == "nt" else "nvcc")
    if home and nvcc.is_file():
        return nvcc
    found = shutil.which("nvcc", path=env.get("PATH", ""))
    return Path(found) if found else None


@dataclass(frozen=True)
class ToolkitWheels:
    major: str
    packages: tuple[str, ...]
    home: str
    includes: tuple[str, ...]
    lib: str
    download_mb: int
    """The wheels' size on PyPI, for the plan to say before anything is fetched."""

    def requirements(self, cuda: str) -> list[str]:
        return [f"{p}=={cuda}.*" for p in self.packages]


@cache
def toolkit_wheels(cuda: str) -> ToolkitWheels | None:
    """The [[toolkit]] row of cuda.toml for release `cuda` ("13.0"); None for a major PyPI has none for."""
    major = cuda.partition(".")[0]
    for row in load("cuda.toml").get("toolkit", []):
        if row["major"] == major:
            return ToolkitWheels(
                major, tuple(row["packages"]), row["home"], tuple(row["includes"]), row["lib"], row["download_mb"]
            )
    return None


def toolkit_folder(cuda: str) -> Path:
    return cachedir.cache_root() / "cuda-toolkits" / f"cuda-{cuda}"


def _size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file() and not p.is_symlink())


def fetch(cuda: str, uv: Uv, python: Path) -> FetchedToolkit:
    """PyPI's toolkit wheels of release `cuda`, installed with uv (`--target`) into envdoctor's cache.

    Installed once per release: a folder with its marker is reused. libcudart comes as libcudart.so.<N>
    only, while torch's extension builder links `-lcudart`, so the unversioned name is linked beside it.
    """
    wheels = toolkit_wheels(cuda)
    if wheels is None:
        raise ToolchainError(f"PyPI has no CUDA toolkit wheels envdoctor knows for CUDA {cuda}")
    folder = toolkit_folder(cuda)
    ready = folder / ".envdoctor-ready"
    if ready.is_file():
        return FetchedToolkit(folder, wheels.packages, _size(folder), fetched_now=False)
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    try:
        uv.pip_install(python, wheels.requirements(cuda), extra=["--target", str(folder)])
    except UvError as exc:
        shutil.rmtree(folder, ignore_errors=True)
        raise ToolchainError(
            f"could not install CUDA {cuda}'s toolkit wheels ({', '.join(wheels.requirements(cuda))}) from PyPI: "
            f"{exc.stderr.strip().splitlines()[-1] if exc.stderr.strip() else exc}"
        ) from exc
    lib = folder / wheels.lib
    versioned = sorted(lib.glob("libcudart.so.*"))
    if versioned and not (lib / "libcudart.so").exists():
        (lib / "libcudart.so").symlink_to(versioned[0].name)
    ready.write_text("\n".join(wheels.requirements(cuda)) + "\n")
    return FetchedToolkit(folder, wheels.packages, _size(folder), fetched_now=True)


def resolve(python: Path, uv: Uv, env: Mapping[str, str] | None = None) -> Toolchain:
    """The toolchain for a CUDA build against the torch of `python`: the machine's nvcc when it is torch's
    release, else PyPI's toolkit wheels of that release (fetched into the cache; checked by running the
    nvcc they hold)."""
    want = torch_cuda(python)
    if want.cuda is None:
        raise ToolchainError(f"torch {want.torch} is a CPU build: there is no CUDA release to build for")
    nvcc = machine_nvcc(env)
    release = nvcc_release(nvcc) if nvcc is not None else None
    if nvcc is not None and release == want.cuda:
        return Toolchain(want.cuda, nvcc_home(nvcc), want.includes, MachineToolkit(nvcc))
    passed_over = (
        f"the machine's nvcc {release or '(does not run)'} at {nvcc} is not torch's CUDA {want.cuda}"
        if nvcc is not None
        else "no nvcc in CUDA_HOME or on PATH"
    )
    fetched = fetch(want.cuda, uv, python)
    wheels = toolkit_wheels(want.cuda)
    assert wheels is not None, "fetch() refuses a release without toolkit wheels"
    home = fetched.folder / wheels.home
    got = nvcc_release(home / "bin" / "nvcc")
    if got != want.cuda:
        raise ToolchainError(
            f"the toolkit wheels in {fetched.folder} hold nvcc {got or '(none that runs)'}, not CUDA {want.cuda}"
        )
    includes = (*(fetched.folder / i for i in wheels.includes), *want.includes)
    return Toolchain(want.cuda, home, includes, fetched, passed_over)


def plan_note(machine_release: str | None, cuda: str) -> str | None:
    """What the plan says about the toolchain of a CUDA build for torch's CUDA `cuda`, from the machine's
    nvcc release (the facts probe's); None when neither the machine nor PyPI has one of that release."""
    if machine_release == cuda:
        return f"with the machine's nvcc {cuda}"
    wheels = toolkit_wheels(cuda)
    if wheels is None:
        return None
    why = f"the machine's nvcc is {machine_release}" if machine_release else "the machine has no nvcc"
    return (
        f"with CUDA {cuda}'s toolkit wheels from PyPI ({', '.join(wheels.packages)}; about {wheels.download_mb} MB "
        f"to download) fetched once into {toolkit_folder(cuda)}, as {why}"
    )
