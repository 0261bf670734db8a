"""ffmpeg without root: found on PATH, else taken from a PyPI wheel that ships the binary.

PyPI's `imageio-ffmpeg` carries a static ffmpeg for Linux (x86_64, aarch64), macOS and Windows,
built with libx264 and the AAC encoder (what MuseTalk's `-vcodec libx264` and envdoctor's verifier
need). It has no ffprobe, so nothing here requires one.

Two users:
- envdoctor's own process (`verify`, `smoke`): `own_ffmpeg()` takes ffmpeg from PATH, else the
  binary of the imageio-ffmpeg installed beside envdoctor (the `verify` extra depends on it).
- the target environment (MuseTalk calls `ffmpeg` by name): `provide_ffmpeg()` installs the wheel
  into the target with uv and links its binary into the environment's bin (Scripts on Windows), which
  comes first on PATH once the environment is activated.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from envdoctor import process
from envdoctor.errors import EnvdoctorError
from envdoctor.inside import InsideError, run_json
from envdoctor.uv import Indexes, Uv, find_uv

WHEEL = "imageio-ffmpeg"
"""The PyPI distribution whose wheels ship a static ffmpeg binary."""

EXE = "ffmpeg.exe" if sys.platform == "win32" else "ffmpeg"

# Runs inside the target (standard library only, Python 3.8+): where the wheel put its binary.
_FIND_BINARY = r"""
import glob, importlib.util, json, os, sys
spec = importlib.util.find_spec("imageio_ffmpeg")
if spec is None or not spec.origin:
    sys.exit(3)
found = sorted(glob.glob(os.path.join(os.path.dirname(spec.origin), "binaries", "ffmpeg-*")))
found = [f for f in found if not f.endswith((".md", ".py"))]
if not found:
    sys.exit(4)
print(json.dumps({"binary": found[-1]}))
"""


class FfmpegError(EnvdoctorError, RuntimeError):
    """No usable ffmpeg, or the provided one lacks what MuseTalk needs; the message says which."""

    code = "ffmpeg-unusable"


def missing_encoders(*, libx264: bool | None, aac: bool | None) -> tuple[str, ...]:
    """What an ffmpeg lacks of what MuseTalk needs, by ffmpeg's encoder names (empty: it is usable).

    The one rule for a usable ffmpeg, for the binaries envdoctor inspects and the facts the probe
    reports alike: MuseTalk writes h264 video with `-vcodec libx264` and muxes AAC audio, and the
    verifier decodes both. None (not known) counts as lacking.
    """
    return tuple(name for name, has in (("libx264", libx264), ("aac", aac)) if not has)


@dataclass(frozen=True)
class FfmpegBinary:
    path: str
    version: str | None
    libx264: bool
    aac: bool

    @property
    def usable(self) -> bool:
        return not missing_encoders(libx264=self.libx264, aac=self.aac)


def inspect(path: str | Path) -> FfmpegBinary:
    """Version and encoders of the ffmpeg at `path` (FfmpegError when it does not run)."""
    try:
        ver = process.run([str(path), "-hide_banner", "-version"], timeout=60)
        enc = process.run([str(path), "-hide_banner", "-encoders"], timeout=60)
    except (OSError, process.TimeoutExpired) as exc:
        raise FfmpegError(f"{path} does not run: {exc}") from None
    if ver.returncode != 0:
        raise FfmpegError(f"{path} -version exited {ver.returncode}")
    m = re.search(r"ffmpeg version (\S+)", ver.stdout)
    return FfmpegBinary(
        path=str(path),
        version=m.group(1) if m else None,
        libx264=bool(re.search(r"\slibx264\s", enc.stdout)),
        aac=bool(re.search(r"\saac\s", enc.stdout)),
    )


# --- envdoctor's own process -----------------------------------------------------------------------
def wheel_ffmpeg() -> str | None:
    """The binary of the imageio-ffmpeg installed beside envdoctor, if any."""
    try:
        import imageio_ffmpeg
    except ImportError:
        return None
    binaries = Path(imageio_ffmpeg.__file__).parent / "binaries"
    found = sorted(p for p in binaries.glob("ffmpeg-*") if p.suffix not in (".md", ".py"))
    return str(found[-1]) if found else None


def own_ffmpeg() -> tuple[str, str] | None:
    """(path, where from) of the ffmpeg envdoctor runs itself: PATH first, then the wheel's."""
    on_path = shutil.which("ffmpeg")
    if on_path:
        return on_path, "PATH"
    wheel = wheel_ffmpeg()
    if wheel:
        return wheel, f"the {WHEEL} wheel beside envdoctor"
    return None


# --- the target environment ------------------------------------------------------------------------
def env_bin(python: Path) -> Path:
    """The folder of the target's interpreter as named (not resolved: a venv's python is a link)."""
    return Path(os.path.abspath(python)).parent


def target_ffmpeg(python: Path, path_env: str | None = None) -> tuple[str, str] | None:
    """(path, where from) of the ffmpeg MuseTalk finds in the target: the environment's bin, then PATH."""
    inside = env_bin(python) / EXE
    if inside.is_file() and os.access(inside, os.X_OK):
        return str(inside), "the environment's bin"
    found = shutil.which("ffmpeg", path=path_env if path_env is not None else os.environ.get("PATH", ""))
    return (found, "PATH") if found else None


def target_facts(python: Path) -> dict[str, object]:
    """The facts section of the ffmpeg MuseTalk runs in the target (envdoctor.facts.Ffmpeg reads it):
    found here, outside the target, the one way fix and smoke find it too."""
    found = target_ffmpeg(python)
    if not found:
        return {"path": None, "source": None, "version": None, "libx264": False, "aac": False}
    path, where = found
    source = "PATH" if where == "PATH" else "environment"
    try:
        binary = inspect(path)
    except FfmpegError:
        return {"path": path, "source": source, "real_path": os.path.realpath(path), "version": None,
                "libx264": False, "aac": False}  # fmt: skip
    return {"path": path, "source": source, "real_path": os.path.realpath(path), "version": binary.version,
            "libx264": binary.libx264, "aac": binary.aac}  # fmt: skip


def usable_target_ffmpeg(python: Path, path_env: str | None = None) -> tuple[FfmpegBinary, str] | None:
    """The ffmpeg MuseTalk finds in the target and where from, if it has libx264 and AAC (for a plan:
    None means `provide_ffmpeg` will install and link one)."""
    found = target_ffmpeg(python, path_env)
    if not found:
        return None
    try:
        binary = inspect(found[0])
    except FfmpegError:
        return None
    return (binary, found[1]) if binary.usable else None


@dataclass(frozen=True)
class Lent:
    """What a run in the target gets: extra environment variables, and what was lent (None: nothing)."""

    env: dict[str, str]
    note: str | None


@contextmanager
def lent_to(python: Path) -> Iterator[Lent]:
    """PATH for one run of MuseTalk in the target. With an ffmpeg in the environment's bin: that bin
    first, as activating the environment does (MuseTalk calls `ffmpeg` by name). With one on PATH:
    nothing. Else envdoctor's own ffmpeg, first on PATH through a temporary folder, and a note."""
    found = target_ffmpeg(python)
    if found is not None:
        bin_first = {"PATH": str(env_bin(python)) + os.pathsep + os.environ.get("PATH", "")}
        yield Lent(bin_first if found[1] != "PATH" else {}, None)
        return
    own = own_ffmpeg()
    if own is None:
        yield Lent({}, None)
        return
    with tempfile.TemporaryDirectory(prefix="envdoctor-ffmpeg-") as tmp:
        link = Path(tmp) / EXE
        if sys.platform == "win32":
            shutil.copy2(own[0], link)
        else:
            link.symlink_to(own[0])
        note = (
            f"the environment has no ffmpeg (its bin nor PATH): this run lent it envdoctor's own, {own[0]} "
            f"from {own[1]}; `envdoctor fix` puts one into the environment"
        )
        yield Lent({"PATH": tmp + os.pathsep + os.environ.get("PATH", "")}, note)


@dataclass(frozen=True)
class FfmpegProvision:
    """What `provide_ffmpeg` found or did in one target."""

    python: str
    action: str
    """"present" (the environment's bin had a usable one), "on PATH" (MuseTalk finds a usable one
    there), or "linked" (installed the wheel and linked its binary into the environment's bin)."""
    ffmpeg: str
    """The path MuseTalk runs."""
    binary: FfmpegBinary
    installed: tuple[str, ...] = ()
    """Requirements installed into the target with uv (to uninstall when undoing)."""
    created: tuple[str, ...] = ()
    """Files created in the target (to delete when undoing)."""
    seconds: float = 0.0

    @property
    def changed(self) -> bool:
        return bool(self.installed or self.created)

    def summary(self) -> str:
        what = f"ffmpeg {self.binary.version or '(unknown version)'}"
        if self.action == "linked":
            return f"{what} from PyPI's {WHEEL} linked into the environment as {self.ffmpeg} ({self.seconds:.1f} s)"
        if self.action == "on PATH":
            return f"{what} on PATH at {self.ffmpeg}: nothing to provide"
        return f"{what} already in the environment at {self.ffmpeg}: nothing to provide"

    def to_dict(self) -> dict[str, object]:
        return {
            "python": self.python,
            "action": self.action,
            "ffmpeg": self.ffmpeg,
            "version": self.binary.version,
            "libx264": self.binary.libx264,
            "aac": self.binary.aac,
            "installed": list(self.installed),
            "created": list(self.created),
            "seconds": round(self.seconds, 2),
        }


def provide_ffmpeg(
    python: Path,
    *,
    uv: Uv | None = None,
    indexes: Indexes | None = None,
    accept_path: bool = True,
    path_env: str | None = None,
) -> FfmpegProvision:
    """Make sure MuseTalk in the target finds an ffmpeg with libx264 and AAC, without root.

    Nothing changes when the environment's bin already has a usable one, or (with `accept_path`)
    PATH does. Otherwise the wheel goes into the target with uv and its binary is linked into the
    environment's bin (copied on Windows, where links need privileges). Raises FfmpegError when the
    result is still not usable, after undoing the link.
    """
    started = time.monotonic()
    usable = usable_target_ffmpeg(python, path_env)
    if usable and (usable[1] != "PATH" or accept_path):
        binary, where = usable
        action = "on PATH" if where == "PATH" else "present"
        return FfmpegProvision(str(python), action, binary.path, binary, seconds=time.monotonic() - started)
    link = env_bin(python) / EXE
    if not os.access(link.parent, os.W_OK):
        raise FfmpegError(f"cannot write to {link.parent}: provide ffmpeg into a virtual environment of yours")
    installed: tuple[str, ...] = ()
    source = _wheel_binary_in(python)
    if source is None:  # the wheel is not in the target yet
        (uv or find_uv()).pip_install(python, [WHEEL], indexes=indexes or Indexes())
        installed = (WHEEL,)
        source = _wheel_binary_in(python)
        if source is None:
            raise FfmpegError(f"{WHEEL} went into {python} but ships no ffmpeg binary for this platform")
    if link.is_symlink() or link.exists():
        link.unlink()  # an unusable ffmpeg in the environment's own bin (checked above)
    if sys.platform == "win32":
        shutil.copy2(source, link)
    else:
        link.symlink_to(source)
    try:
        binary = inspect(link)
        if not binary.usable:
            raise FfmpegError(f"the ffmpeg of {WHEEL} ({source}) lacks libx264 or the AAC encoder")
    except FfmpegError:
        link.unlink(missing_ok=True)
        raise
    return FfmpegProvision(
        str(python),
        "linked",
        str(link),
        binary,
        installed=installed,
        created=(str(link),),
        seconds=time.monotonic() - started,
    )


def _wheel_binary_in(python: Path) -> Path | None:
    try:
        found = run_json(
            python, ["-c", _FIND_BINARY], what="finding imageio-ffmpeg's binary", timeout=120, require_exit_zero=True
        ).data.get("binary")
    except InsideError:  # not installed there (exit 3), or no binary in it (exit 4)
        return None
    return Path(found) if isinstance(found, str) and found else None


def undo(provision: FfmpegProvision, *, uv: Uv | None = None) -> None:
    """Remove what `provide_ffmpeg` created and installed (for a rollback)."""
    for created in provision.created:
        Path(created).unlink(missing_ok=True)
    if provision.installed:
        (uv or find_uv()).pip_uninstall(Path(provision.python), list(provision.installed))
