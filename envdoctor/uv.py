"""The one module that runs uv: find the binary, run it, turn its output into data.

uv is envdoctor's resolver and installer. Everything that installs, resolves, freezes or creates an
environment goes through here, so that flags, index settings and error handling live in one place.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from packaging.utils import parse_wheel_filename

from envdoctor import process
from envdoctor.digest import sha256_file
from envdoctor.errors import EnvdoctorError


class UvError(EnvdoctorError, RuntimeError):
    """uv failed; the message carries the command and uv's own last lines."""

    code = "uv-failed"

    def __init__(self, args: Sequence[str], returncode: int, stderr: str) -> None:
        tail = "\n".join(stderr.strip().splitlines()[-15:])
        super().__init__(f"uv {' '.join(args)} failed (exit {returncode}):\n{tail}")
        self.args_ = list(args)
        self.returncode = returncode
        self.stderr = stderr


@dataclass(frozen=True)
class Indexes:
    """Where uv looks for packages. Empty means uv's defaults (PyPI)."""

    index_url: str | None = None
    extra_index_urls: tuple[str, ...] = ()
    find_links: tuple[str, ...] = ()
    strategy: str | None = None  # uv's --index-strategy
    no_index: bool = False

    def to_dict(self) -> dict[str, object]:
        """What is set, for a plan's JSON (uv's defaults left out)."""
        return {
            k: list(v) if isinstance(v, tuple) else v for k, v in self.__dict__.items() if v not in (None, (), False)
        }

    def args(self) -> list[str]:
        out: list[str] = []
        if self.no_index:
            out.append("--no-index")
        if self.index_url:
            out += ["--index-url", self.index_url]
        for url in self.extra_index_urls:
            out += ["--extra-index-url", url]
        for link in self.find_links:
            out += ["--find-links", link]
        if self.strategy:
            out += ["--index-strategy", self.strategy]
        return out


@dataclass(frozen=True)
class Uv:
    binary: str
    env: dict[str, str] = field(default_factory=dict)

    def run(
        self,
        args: Sequence[str],
        *,
        timeout: float | None = None,
        check: bool = True,
        cwd: Path | None = None,
        on_line: Callable[[str], None] | None = None,
    ) -> subprocess.CompletedProcess[str]:
        # uv runs in a process group of its own (envdoctor.process), so that an interrupted envdoctor
        # stops uv and every build it started (not only the uv process), and on Linux uv dies with
        # envdoctor even on SIGKILL.
        child = process.Child(
            [self.binary, *args],
            stdout=process.PIPE,
            stderr=process.PIPE,
            env={"UV_NO_PROGRESS": "1", **self.env},
            cwd=cwd,
            die_with_parent=True,
        )
        _LIVE.add(child)
        try:
            if _STOPPING.is_set():  # stop_all() came while this uv was being started
                child.interrupt()
            out, err = child.communicate(timeout=timeout, grace=STOP_GRACE, on_line=on_line)
        finally:
            _LIVE.discard(child)
        code = child.popen.returncode
        proc = subprocess.CompletedProcess(list(child.argv), code, process.decode(out), process.decode(err))
        if check and proc.returncode != 0:
            raise UvError(args, proc.returncode, proc.stderr)
        return proc

    # --- environments -------------------------------------------------------------------------
    def venv(self, path: Path, python: str | None = None, seed: bool = False) -> None:
        args = ["venv", "--quiet", str(path)]
        if python:
            args += ["--python", python]
        if seed:
            args.append("--seed")
        self.run(args)

    def pip_install(
        self,
        python: Path,
        requirements: Sequence[str] = (),
        *,
        requirement_files: Sequence[Path] = (),
        constraints: Sequence[Path] = (),
        indexes: Indexes = Indexes(),
        extra: Sequence[str] = (),
        timeout: float | None = None,
    ) -> subprocess.CompletedProcess[str]:
        args = ["pip", "install", "--python", str(python), *indexes.args()]
        for f in requirement_files:
            args += ["-r", str(f)]
        for c in constraints:
            args += ["-c", str(c)]
        return self.run([*args, *extra, *requirements], timeout=timeout)

    def pip_install_locked(
        self,
        python: Path,
        lockfile: Path,
        *,
        wheels: Sequence[Path | str] = (),
        indexes: Indexes = Indexes(),
        extra: Sequence[str] = (),
        timeout: float | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """Install exactly a lockfile's pins: --no-deps (the lockfile is the closure) and --require-hashes
        (a pin without a hash, or an artifact whose hash differs, stops the install before it changes
        anything). Local `wheels` riding in the same transaction (the kept stub) get their hash here."""
        with tempfile.TemporaryDirectory(prefix="envdoctor-locked-") as tmp:
            files = [lockfile]
            if wheels:
                lines = []
                for w in map(Path, wheels):
                    name = parse_wheel_filename(w.name)[0]
                    digest = sha256_file(w)
                    lines.append(f"{name} @ {w.resolve().as_uri()} --hash=sha256:{digest}")
                local = Path(tmp) / "local-wheels.txt"
                local.write_text("\n".join(lines) + "\n")
                files.append(local)
            return self.pip_install(
                python, requirement_files=files, indexes=indexes,
                extra=["--no-deps", "--require-hashes", *extra], timeout=timeout,
            )  # fmt: skip

    def pip_uninstall(self, python: Path, names: Sequence[str]) -> None:
        self.run(["pip", "uninstall", "--python", str(python), *names])

    def pip_freeze(self, python: Path) -> list[str]:
        out = self.run(["pip", "freeze", "--python", str(python)]).stdout
        return [line for line in out.splitlines() if line.strip()]

    def pip_list(self, python: Path) -> list[dict[str, str]]:
        out = self.run(["pip", "list", "--python", str(python), "--format", "json"]).stdout
        return json.loads(out or "[]")

    # --- plan / fix / lock ------------------------------------------------------------------------
    def with_env(self, **env: str) -> Uv:
        """The same uv with extra environment variables (build settings such as MMCV_WITH_OPS)."""
        return Uv(self.binary, {**self.env, **env})

    def pip_sync(
        self,
        python: Path,
        files: Sequence[Path],
        *,
        indexes: Indexes = Indexes(),
        extra: Sequence[str] = (),
        offline: bool = False,
        timeout: float | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """Make the environment hold exactly what `files` list: the rollback and the lockfile path."""
        args = ["pip", "sync", "--python", str(python), *indexes.args(), *(["--offline"] if offline else [])]
        return self.run([*args, *extra, *map(str, files)], timeout=timeout)

    def pip_compile(
        self,
        requirement_file: Path,
        output: Path,
        *,
        python_version: str,
        python_platform: str,
        constraints: Sequence[Path] = (),
        build_constraints: Sequence[Path] = (),
        excludes: Sequence[Path] = (),
        indexes: Indexes = Indexes(),
        generate_hashes: bool = True,
        exclude_newer: str | None = None,
        fmt: str | None = None,
        timeout: float | None = None,
        cwd: Path | None = None,
        config_file: Path | None = None,
    ) -> None:
        """Resolve `requirement_file` for another interpreter and platform into `output`.

        Run with `cwd` and relative file names, uv's `# via -r FILE` notes stay the same from run to run.
        """
        args = [
            "pip", "compile", str(requirement_file), "--output-file", str(output), "--quiet", "--no-header",
            "--python-version", python_version, "--python-platform", python_platform, *indexes.args(),
        ]  # fmt: skip
        for flag, files in (("--constraints", constraints), ("--build-constraints", build_constraints),
                            ("--excludes", excludes)):  # fmt: skip
            for f in files:
                args += [flag, str(f)]
        if generate_hashes:
            args.append("--generate-hashes")
        if exclude_newer:
            args += ["--exclude-newer", exclude_newer]
        if fmt:
            args += ["--format", fmt]
        if config_file:
            args += ["--config-file", str(config_file)]
        self.run(args, timeout=timeout, cwd=cwd)

    def build_wheel(
        self,
        source: str,
        out_dir: Path,
        *,
        python: Path,
        build_constraints: Sequence[Path] = (),
        no_build_isolation: bool = True,
        timeout: float | None = None,
        on_line: Callable[[str], None] | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """Build a wheel from a source archive or folder, with the target's own packages visible
        (no build isolation), so a build that imports torch sees the user's torch. uv streams the
        backend's output: `on_line` sees it line by line while the build runs."""
        args = ["build", "--wheel", "--python", str(python), "--out-dir", str(out_dir)]
        if no_build_isolation:
            args.append("--no-build-isolation")
        for f in build_constraints:
            args += ["--build-constraint", str(f)]
        return self.run([*args, source], timeout=timeout, on_line=on_line)


# The uv processes this process is running, and whether stop_all() asked them to stop.
_LIVE: set[process.Child] = set()
STOP_GRACE = 5.0
"""Seconds uv gets to end its builds after a request to stop, before its group is killed."""
_STOPPING = threading.Event()


def stop_all() -> None:
    """Stop every uv this process runs, with what each started, and any uv started until resume_runs().

    Safe in a signal handler: it only sends signals; each Uv.run then returns with uv's exit status.
    """
    _STOPPING.set()
    for child in list(_LIVE):
        child.interrupt()


def resume_runs() -> None:
    _STOPPING.clear()


def write_config(folder: Path, extra_build: Sequence[tuple[str, Sequence[str]]]) -> Path:
    """A uv.toml with extra-build-dependencies (for `--config-file`): how uv's isolated build gets
    what an sdist forgot to declare (xtcocotools needs numpy)."""
    lines = ["[extra-build-dependencies]"]
    lines += [f"{json.dumps(name)} = {json.dumps(list(reqs))}" for name, reqs in extra_build]
    path = folder / "uv.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def find_uv() -> Uv:
    """uv from the `uv` package envdoctor depends on, else from PATH."""
    override = os.environ.get("ENVDOCTOR_UV")
    if override:
        return Uv(override)
    try:
        from uv import find_uv_bin

        return Uv(find_uv_bin())
    except (ImportError, FileNotFoundError):
        found = shutil.which("uv")
        if not found:
            raise FileNotFoundError("uv was not found: install it with `pip install uv`.") from None
        return Uv(found)


@dataclass(frozen=True)
class Unmet:
    """One line of `uv pip check`: an installed distribution whose declared requirement is not met."""

    requirer: str
    requirement: str
    """As the requirer declares it (`rich>=13.8.0`)."""
    installed: str | None
    """The version that is installed instead, or None when none is."""
    line: str


_UNMET = re.compile(r"The package `([^`]+)` requires `([^`]+)`, but (?:`([^`]+)` is installed|it's not installed)")


def parse_check(lines: Sequence[str]) -> tuple[list[Unmet], list[str]]:
    """`uv pip check`'s findings as data, and the lines it said that are not in a form this parser knows."""
    found: list[Unmet] = []
    other: list[str] = []
    for line in lines:
        m = _UNMET.search(line)
        if m:
            found.append(Unmet(requirer=m.group(1), requirement=m.group(2), installed=m.group(3), line=line.strip()))
        else:
            other.append(line)
    return found, other
