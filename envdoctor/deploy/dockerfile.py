"""A Dockerfile for a bundle: the locked environment rebuilt from deploy/wheels/ with no index and no network.

The image copies the bundle, checks every file against SHA256SUMS, installs envdoctor (from the bundle's
tool/ folder, or wheels/) into an environment of its own (its dependencies never meet MuseTalk's) and the
app's environment beside it from the hashed requirements (`--no-index --find-links wheels --require-hashes
--no-deps`), runs as a non-root user, and refuses to build unless `envdoctor check` passes and the
environment is the lock, distribution for distribution. `envdoctor check` is also its HEALTHCHECK; at start
the weights mounted at models/ are verified by sha256 before the command runs.

The base image suits the lock's target (envdoctor/data/docker.toml): a slim Python image of the lock's
Python for CPU, NVIDIA's runtime image of torch's CUDA release for GPU. Nothing here touches the network:
envdoctor's own requirements are resolved from the bundle's tool/ and wheels/ with uv, offline.
"""

from __future__ import annotations

import json
import re
import shlex
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from packaging.utils import InvalidWheelFilename, parse_wheel_filename

from envdoctor import __version__
from envdoctor.datafiles import load
from envdoctor.deploy import envlock
from envdoctor.deploy.bundle import TOOL
from envdoctor.errors import EnvdoctorError, UsageError
from envdoctor.tools import ffmpeg as ffmpeg_tool
from envdoctor.uv import Indexes, UvError, find_uv

SUMS = "SHA256SUMS"
TOOL_REQUIREMENTS = "envdoctor-requirements.txt"
DOCKERFILE = "Dockerfile"


class NotABundle(UsageError):
    """The folder is not a complete bundle: the image could not be built from it offline."""

    code = "dockerfile-bundle"


class NoBase(EnvdoctorError):
    """No base image is known for the lock's target; --base names one."""

    code = "dockerfile-no-base"
    exit_code = 1


# --- the base image: a sum type, one kind per reason it was chosen --------------------------------------
@dataclass(frozen=True)
class GivenBase:
    image: str

    def sentence(self) -> str:
        return f"base image {self.image} (given with --base)"


@dataclass(frozen=True)
class CpuBase:
    image: str
    python: str

    def sentence(self) -> str:
        return f"base image {self.image} (the lock's Python {self.python} on CPU; envdoctor/data/docker.toml)"


@dataclass(frozen=True)
class CudaBase:
    image: str
    cuda: str
    found_in: str
    """What named the CUDA release: torch's local label, or the nvidia-cuda-runtime wheel."""

    def sentence(self) -> str:
        return f"base image {self.image} (CUDA {self.cuda} runtime, from {self.found_in}; envdoctor/data/docker.toml)"


Base = GivenBase | CpuBase | CudaBase


@dataclass(frozen=True)
class Bundle:
    folder: Path
    python: str
    """major.minor: the interpreter the image must have."""
    platform: str
    accelerator: str
    packages: Mapping[str, envlock.LockedEntry]
    envdoctor_wheel: Path


@dataclass(frozen=True)
class Generated:
    dockerfile: Path
    tool_requirements: Path
    base: Base
    bundle: Bundle
    check_args: tuple[str, ...]
    notes: tuple[str, ...]


def _minor(version: str) -> str:
    return ".".join(version.split(".")[:2])


def read_bundle(folder: Path) -> Bundle:
    """The lock and wheels of `folder`; NotABundle, naming what is missing, unless all is there."""
    if not folder.is_dir():
        raise UsageError(f"{folder} does not exist.")
    head, packages = envlock.read(folder)
    wheels = folder / envlock.WHEELS
    missing = [f for f in (envlock.REQUIREMENTS, SUMS) if not (folder / f).is_file()]
    if missing:
        raise NotABundle(f"{folder} has no {', '.join(missing)}: make the bundle with `envdoctor bundle {folder}`.")
    unhashed = sorted(n for n, e in packages.items() if not e.sha256)
    if unhashed:
        raise NotABundle(
            f"the lock in {folder} has no wheel hash for {', '.join(unhashed)}: an image installs with "
            "--require-hashes, so lock an environment whose every distribution has a known wheel."
        )
    present = {p.name for p in wheels.glob("*.whl")} if wheels.is_dir() else set()
    absent = sorted(f"{e.filename}" for e in packages.values() if e.filename not in present)
    if absent:
        raise NotABundle(
            f"{wheels} lacks {len(absent)} locked wheel(s) ({', '.join(absent[:5])}"
            f"{', ...' if len(absent) > 5 else ''}): make the bundle with `envdoctor bundle {folder}`."
        )
    # `envdoctor bundle` puts envdoctor and its dependencies in tool/; a bundle made by hand may hold them in wheels/.
    tool = sorted(wheels.glob("envdoctor-*.whl")) + sorted((folder / TOOL).glob("envdoctor-*.whl"))
    if not tool:
        raise NotABundle(
            f"{folder} holds no envdoctor wheel (in {TOOL}/ or {envlock.WHEELS}/): the image runs envdoctor check, "
            f"so make the bundle with `envdoctor bundle {folder}`, without --no-tool."
        )
    platform = str(head.get("platform", ""))
    if not platform.startswith("linux-"):
        raise NotABundle(f"the lock in {folder} was made on {platform or 'an unknown platform'}: an image is Linux.")
    return Bundle(
        folder,
        python=_minor(str(head.get("python", ""))),
        platform=platform,
        accelerator=str(head.get("accelerator", "")),
        packages=packages,
        envdoctor_wheel=_newest(tool),
    )


def _newest(wheels: Sequence[Path]) -> Path:
    def version(p: Path) -> Any:
        try:
            return parse_wheel_filename(p.name)[1]
        except InvalidWheelFilename:
            raise NotABundle(f"{p.name} is not a wheel's file name.") from None

    return max(wheels, key=version)


def cuda_release(bundle: Bundle) -> tuple[str, str] | None:
    """torch's CUDA release (e.g. "13.0") and what named it; None for a CPU lock."""
    label = re.fullmatch(r"cu(\d+)(\d)", bundle.accelerator)
    if label:
        return f"{int(label.group(1))}.{label.group(2)}", f"torch's build label +{bundle.accelerator}"
    for name, entry in sorted(bundle.packages.items()):
        if name.startswith("nvidia-cuda-runtime"):
            return _minor(entry.version), f"{name} {entry.version} in the lock"
    return None


def choose_base(bundle: Bundle, given: str | None = None) -> Base:
    if given:
        return GivenBase(given)
    data = load("docker.toml")
    release = cuda_release(bundle)
    if release is None:
        return CpuBase(data["cpu"]["image"].format(python=bundle.python), bundle.python)
    cuda, found_in = release
    for row in data["cuda"]:
        if row["cuda"] == cuda:
            return CudaBase(row["image"], cuda, found_in)
    known = ", ".join(row["cuda"] for row in data["cuda"])
    raise NoBase(
        f"no CUDA runtime image is known for CUDA {cuda} ({found_in}; envdoctor knows {known}): "
        "pass --base IMAGE with that CUDA release and Python."
    )


def notes_for(base: Base, bundle: Bundle) -> tuple[str, ...]:
    notes = [
        f"{name} loads {', '.join(libraries)} from the system: the build stops at once unless the base has them "
        f"(Debian/Ubuntu: {' '.join(debian)})"
        for name, libraries, debian in system_libraries(bundle)
    ]
    if isinstance(base, CudaBase):
        notes.insert(
            0,
            f"{base.image} ships no Python: the build stops at once unless the image has python{bundle.python}; "
            f"build a base FROM it with python{bundle.python} installed and pass it with --base.",
        )
    return tuple(notes)


def write_tool_requirements(bundle: Bundle) -> Path:
    """envdoctor and its own dependencies, resolved from the bundle's wheels with their hashes (offline)."""
    version = str(parse_wheel_filename(bundle.envdoctor_wheel.name)[1])
    out = bundle.folder / TOOL_REQUIREMENTS
    machine = bundle.platform.removeprefix("linux-")
    with tempfile.TemporaryDirectory(prefix="envdoctor-tool-") as tmp:
        # Run from the folder with a relative name, uv's `# via -r envdoctor.in` is the same every time.
        (Path(tmp) / "envdoctor.in").write_text(f"envdoctor=={version}\n")
        _compile(Path(tmp), out.resolve(), bundle, machine)
    return out


def _compile(cwd: Path, out: Path, bundle: Bundle, machine: str) -> None:
    folders = [str(f) for f in _tool_folders(bundle)]
    try:
        find_uv().pip_compile(
            Path("envdoctor.in"),
            out,
            cwd=cwd,
            python_version=bundle.python,
            python_platform=f"{machine}-unknown-linux-gnu",
            indexes=Indexes(no_index=True, find_links=tuple(folders)),
        )
    except UvError as exc:
        raise NotABundle(
            f"envdoctor's own dependencies are not all in {' or '.join(folders)} (the image installs them with no "
            f"index): {_said(exc.stderr) or exc}"
        ) from None


def _tool_folders(bundle: Bundle) -> list[Path]:
    """Where envdoctor's own wheels are: the bundle's tool/ (`envdoctor bundle`), and wheels/."""
    tool = bundle.folder / TOOL
    return [p.resolve() for p in (tool, bundle.folder / envlock.WHEELS) if p.is_dir()]


def _said(stderr: str) -> str:
    """uv's resolver explanation as one line (its tree drawing left out)."""
    lines = (line.strip().lstrip("\u00d7\u2570\u2500\u25b6\u2502 ").strip() for line in stderr.splitlines())
    return " ".join(line for line in lines if line and not line.startswith("hint:"))


def render(bundle: Bundle, base: Base, check_args: Sequence[str], dockerfile: Path | None = None) -> str:
    """The Dockerfile's text. Plain Dockerfile syntax: no `# syntax=` line (its frontend is an image pull)."""
    dash_f = f"-f {dockerfile} " if dockerfile and dockerfile != bundle.folder / DOCKERFILE else ""
    lay = load("docker.toml")["layout"]
    hc = load("docker.toml")["healthcheck"]
    py = f"python{bundle.python}"
    b, tool, app, models = lay["bundle"], lay["tool_venv"], lay["app_venv"], lay["models"]
    find = f"--no-index --find-links {b}/{envlock.WHEELS} --require-hashes"
    tool_find = f"--find-links {b}/{TOOL} " if (bundle.folder / TOOL).is_dir() else ""
    check = ["envdoctor", "check", "--venv", app, *check_args]
    check_sh = " ".join(shlex.quote(a) for a in check)
    verify = (
        f'if [ "${{ENVDOCTOR_VERIFY_MODELS:-1}}" != 0 ]; then envdoctor models verify --models {models} || exit 1; '
        f"else echo 'envdoctor: ENVDOCTOR_VERIFY_MODELS=0: the weights under {models} are not verified' >&2; fi; "
        'exec "$@"'
    )
    lines = [
        f"# Made by envdoctor {__version__} (`envdoctor dockerfile`) from {envlock.PYLOCK}: Python {bundle.python}, "
        f"{bundle.platform}, accelerator {bundle.accelerator}.",
        f"# Build it offline from the bundle folder:  docker build --network none {dash_f}-t IMAGE {bundle.folder}",
        f"# Run it with the weights:  docker run -v /path/to/models:{models}:ro IMAGE COMMAND",
        f"# The {base.sentence()}.",
        f"FROM {base.image}",
        f"ENV PYTHONDONTWRITEBYTECODE=1 PIP_NO_INDEX=1 PIP_DISABLE_PIP_VERSION_CHECK=1 UV_OFFLINE=1 UV_NO_CACHE=1 "
        f"TORCH_HOME={lay['torch_home']}",
        f"COPY . {b}",
        "# Nothing is fetched while the image builds: the base must have the lock's Python.",
        f"RUN command -v {py} >/dev/null || {{ echo 'envdoctor: the base image has no {py}, the Python of the lock: "
        f"use a base with {py}' >&2; exit 1; }}",
        *_system_library_lines(bundle),
        "# Every file of the bundle is the file that was bundled.",
        f"RUN cd {b} && sha256sum --check --strict --quiet {SUMS}",
        "# envdoctor in an environment of its own, beside the app's: its dependencies never meet the app's.",
        f"RUN {py} -m venv {tool} && {tool}/bin/pip install --no-cache-dir {tool_find}{find} "
        f"-r {b}/{TOOL_REQUIREMENTS}",
        "# The app's environment: exactly the lock, each wheel checked against its sha256.",
        f"RUN {py} -m venv --without-pip {app} && {tool}/bin/uv pip install --python {app}/bin/python {find} "
        f"--no-deps -r {b}/{envlock.REQUIREMENTS}",
        *_ffmpeg_lines(bundle, app),
        f"RUN useradd --system --uid {lay['uid']} --create-home --home-dir /home/{lay['user']} {lay['user']} "
        f"&& mkdir -p {lay['torch_home']} && chown -R {lay['user']} {models}",
        f"USER {lay['user']}",
        # The app's environment is the active one (its python, and the ffmpeg linked into its bin, which MuseTalk
        # and envdoctor's own media steps both run by name); envdoctor comes from its own environment after it.
        f"ENV VIRTUAL_ENV={app} PATH={app}/bin:{tool}/bin:$PATH",
        "# A broken image does not build: the environment passes envdoctor check and is the lock.",
        f"RUN {check_sh}",
        f"RUN envdoctor lock --check {b} --venv {app}",
        f"VOLUME [{json.dumps(models)}]",
        f"HEALTHCHECK --interval={hc['interval']} --timeout={hc['timeout']} --start-period={hc['start_period']} "
        f"CMD {check_sh} >/dev/null || exit 1",
        "# At start the weights mounted at models/ are verified by sha256 (ENVDOCTOR_VERIFY_MODELS=0 skips it, said).",
        f"ENTRYPOINT {json.dumps(['/bin/sh', '-c', verify, 'envdoctor-entrypoint'])}",
        f"CMD {json.dumps(check)}",
    ]
    return "\n".join(lines) + "\n"


def system_libraries(bundle: Bundle) -> list[tuple[str, list[str], list[str]]]:
    """(distribution, the libraries it loads from the system, the Debian packages with them) for the lock."""
    rows = load("docker.toml").get("system_library", [])
    return [
        (name, list(row["libraries"]), list(row["debian"]))
        for row in rows
        for name in row["distributions"]
        if name in bundle.packages
    ]


def _system_library_lines(bundle: Bundle) -> list[str]:
    lines = []
    for name, libraries, debian in system_libraries(bundle):
        said = f"envdoctor: the base image lacks $lib, which {name} loads: use a base with {' '.join(debian)}"
        lines += [
            f"# {name} loads {', '.join(libraries)} from the system (envdoctor/data/docker.toml).",
            f'RUN for lib in {" ".join(libraries)}; do ldconfig -p | grep -q "$lib" || '
            f'{{ echo "{said} (Debian/Ubuntu packages)" >&2; exit 1; }}; done',
        ]
    return lines


def _ffmpeg_lines(bundle: Bundle, app: str) -> list[str]:
    """The link `envdoctor fix` makes for MuseTalk's `ffmpeg`, when the lock holds imageio-ffmpeg: a link is no
    distribution's file, so the install does not make it."""
    if ffmpeg_tool.WHEEL not in bundle.packages:
        return []
    exe = f"$({app}/bin/python -c 'import imageio_ffmpeg; print(imageio_ffmpeg.get_ffmpeg_exe())')"
    return [
        f"# MuseTalk runs `ffmpeg` by name: the binary of the lock's {ffmpeg_tool.WHEEL}, linked into the app's bin.",
        f'RUN ln -s "{exe}" {app}/bin/ffmpeg',
    ]


def generate(
    folder: Path,
    *,
    base: str | None = None,
    output: Path | None = None,
    check_only: Sequence[str] = (),
) -> Generated:
    """Write the Dockerfile (default folder/Dockerfile) and folder/envdoctor-requirements.txt.

    Refuses (NotABundle, NoBase) before writing anything."""
    bundle = read_bundle(folder)
    chosen = choose_base(bundle, base)
    check_args = tuple(a for only in check_only for a in ("--only", only))
    path = output or folder / DOCKERFILE
    if path.is_dir():
        path = path / DOCKERFILE
    text = render(bundle, chosen, check_args, path)
    tool = write_tool_requirements(bundle)
    path.write_text(text)
    return Generated(path, tool, chosen, bundle, check_args, notes_for(chosen, bundle))
