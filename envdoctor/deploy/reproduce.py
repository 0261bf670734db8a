"""`envdoctor fix --from DIR`: the environment of a bundle, installed exactly, then verified and checked.

Before anything is made, every wheel the lock names must be in DIR/wheels/ with the lock's sha256. The
install is uv's, from that folder alone (no index; `--offline` also keeps uv off the network), of the
lock's pins with their hashes and no resolution: `uv pip sync`, so the environment holds the lock and
nothing else. Afterwards each distribution and the digest of its installed files are compared with the
lock (deploy/compare.py), and `check` runs. The venv is always new (`create`), and removed when the install
fails. When the lock holds imageio-ffmpeg (fix put it there for MuseTalk's `ffmpeg`), its binary is linked
into the new environment's bin as fix links it: a link is no distribution's file, so no install makes it.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from envdoctor import checkrun
from envdoctor import target as target_mod
from envdoctor.checkrun import CheckReport
from envdoctor.deploy import envlock, inventory
from envdoctor.deploy.bundle import HashMismatch
from envdoctor.deploy.compare import Difference, compare
from envdoctor.deploy.envlock import LockedEntry
from envdoctor.digest import sha256_file
from envdoctor.errors import EnvdoctorError, UsageError
from envdoctor.pythons import find_python
from envdoctor.target import Target
from envdoctor.tools import ffmpeg as ffmpeg_tool
from envdoctor.uv import Indexes, UvError, find_uv

Say = Callable[[str], None]


class BundleIncomplete(EnvdoctorError):
    """The bundle lacks a wheel the lock names: nothing was installed."""

    code = "bundle-incomplete"


class InstallFailed(EnvdoctorError):
    code = "reproduce-install-failed"


@dataclass(frozen=True)
class Reproduced:
    folder: Path
    target: Target
    created: bool
    packages: int
    install_seconds: float
    differences: tuple[Difference, ...]
    """What the new environment has that the lock does not say (empty: it is the lock)."""
    check: CheckReport
    seconds: float
    ffmpeg: str | None = None
    """What was done for the ffmpeg of the lock's imageio-ffmpeg (None: the lock has none)."""

    @property
    def exit_code(self) -> int:
        return 1 if self.differences or self.check.failures else 0


def _verify_bundle(folder: Path, entries: Sequence[LockedEntry]) -> None:
    unhashed = [e.name for e in entries if not (e.filename and e.sha256)]
    if unhashed:
        raise BundleIncomplete(
            f"the lock in {folder} pins {', '.join(unhashed)} by version only: it cannot be installed exactly."
        )
    wheels = folder / envlock.WHEELS
    missing = [e.filename for e in entries if e.filename and not (wheels / e.filename).is_file()]
    if missing:
        raise BundleIncomplete(
            f"{wheels} lacks {', '.join(missing)}: run `envdoctor bundle {folder}` where the wheels can be had."
        )
    for e in entries:
        assert e.filename and e.sha256
        got = sha256_file(wheels / e.filename)
        if got != e.sha256:
            raise HashMismatch(
                f"{wheels / e.filename} has sha256 {got}, not the {e.sha256} the lock pinned: nothing installed."
            )


def _series(version: str) -> str:
    return ".".join(version.split(".")[:2])


def _create(venv: Path, python_version: str, say: Say) -> None:
    found = find_python(_series(python_version))
    if found is None:
        raise UsageError(
            f"no Python {_series(python_version)} on this machine (the lock's Python is {python_version}; none "
            "found via uv, PATH or pyenv): install one first."
        )
    try:
        find_uv().venv(venv, python=str(found.python))
    except UvError as exc:
        raise UsageError(f"uv could not create {venv} with {found.python}: {exc}") from exc
    say(f"created {venv} with {found.python} (found via {found.via})")


def reproduce(
    folder: Path,
    venv: Path,
    *,
    create: bool,
    offline: bool,
    only: Sequence[str] = (),
    progress: Say | None = None,
) -> Reproduced:
    """Install the bundle's lock into `venv` (made first with `create`), then compare it and check it."""
    say = progress or (lambda _m: None)
    t0 = time.perf_counter()
    if not folder.is_dir():
        raise UsageError(f"--from {folder} is not a folder.")
    # Always a new environment: an existing one would be changed without fix's snapshot and rollback.
    if not create:
        raise UsageError("--from installs into a new environment: pass --create with a new or empty --venv folder.")
    if venv.exists() and (not venv.is_dir() or any(venv.iterdir())):
        raise UsageError(f"{venv} exists and is not empty: --create makes a new environment; pick an empty folder.")
    head, entries = envlock.read(folder)
    if not entries:
        raise UsageError(f"the lock in {folder} names no distribution.")
    _verify_bundle(folder, list(entries.values()))
    checkrun.selected(only)  # an unknown check id is refused before anything is made
    python_version = str(head.get("python") or "")
    _create(venv, python_version or "3.11", say)
    try:
        target = target_mod.resolve(venv=str(venv))
        if python_version and target.version != python_version:
            say(f"note: the lock was made on Python {python_version}; {venv} has {target.version}")
        t1 = time.perf_counter()
        say(f"installing {len(entries)} distributions from {folder / envlock.WHEELS} (no index, hashes required)")
        with tempfile.TemporaryDirectory(prefix="envdoctor-reproduce-") as tmp:
            pins = Path(tmp) / "requirements.txt"
            pins.write_text("".join(f"{e.name}=={e.version} --hash=sha256:{e.sha256}\n" for e in entries.values()))
            find_uv().pip_sync(
                target.python,
                [pins],
                indexes=Indexes(no_index=True, find_links=(str(folder / envlock.WHEELS),)),
                extra=["--require-hashes"],
                offline=offline,
                timeout=1800,
            )
        install_seconds = round(time.perf_counter() - t1, 2)
    except BaseException as exc:  # Ctrl-C too: a half-installed environment is never left behind
        shutil.rmtree(venv, ignore_errors=True)
        say(f"removed {venv}, which this run created")
        if isinstance(exc, UvError):
            raise InstallFailed(f"the install from {folder} failed: {exc}") from None
        raise
    differences = compare(entries, inventory.read(target))
    ffmpeg = _link_ffmpeg(target, entries) if ffmpeg_tool.WHEEL in entries else None
    if ffmpeg:
        say(ffmpeg)
    say("running check")
    report = checkrun.run(target, only=only)
    return Reproduced(
        folder=folder,
        target=target,
        created=create,
        packages=len(entries),
        install_seconds=install_seconds,
        differences=differences,
        check=report,
        seconds=round(time.perf_counter() - t0, 2),
        ffmpeg=ffmpeg,
    )


def _link_ffmpeg(target: Target, entries: dict[str, LockedEntry]) -> str:
    """The installed wheel's binary linked into bin (nothing is downloaded: the wheel is in the lock).
    A failure is said, and left to `check`'s tools.ffmpeg, which then fails with its fix."""
    try:
        return f"ffmpeg: {ffmpeg_tool.provide_ffmpeg(target.python).summary()}"
    except ffmpeg_tool.FfmpegError as exc:
        return f"ffmpeg: not linked ({exc})"
