"""Which interpreter envdoctor treats, and why that one.

envdoctor runs outside the environment it treats, the way uv does, and in uv's order: the target is
chosen from `--python` / `--venv`, else the active virtualenv (VIRTUAL_ENV), else the active conda
environment (CONDA_PREFIX: MuseTalk's own instructions start with `conda create`), else `./.venv`, else
`python3` on PATH.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

from envdoctor.errors import UsageError
from envdoctor.inside import InsideError, last_json_object, run_json

# The probes run inside the target and are written for Python 3.8 and newer.
MIN_TARGET = (3, 8)

_IDENTIFY = (
    "import json, sys; print(json.dumps({'version': '%d.%d.%d' % sys.version_info[:3],"
    " 'prefix': sys.prefix, 'base_prefix': getattr(sys, 'base_prefix', sys.prefix),"
    " 'executable': sys.executable}))"
)


@dataclass(frozen=True)
class Target:
    python: Path
    """The interpreter, as given or found (not resolved: a venv's python is often a symlink)."""
    source: str
    """How it was chosen: --python, --venv, VIRTUAL_ENV, CONDA_PREFIX, ./.venv or PATH."""
    reason: str
    """One sentence for the report: which interpreter, and why."""
    version: str
    prefix: str
    is_venv: bool

    @property
    def venv(self) -> Path | None:
        return Path(self.prefix) if self.is_venv else None

    def to_dict(self) -> dict[str, object]:
        d = asdict(self)
        d["python"] = str(self.python)
        return d


def _venv_python(venv: Path) -> Path:
    for rel in ("bin/python", "bin/python3", "Scripts/python.exe"):
        cand = venv / rel
        if cand.exists():
            return cand
    raise UsageError(f"{venv} is not a virtual environment: it has no bin/python.")


def _conda_python(prefix: Path) -> Path:
    # A conda environment keeps its interpreter in bin/ on POSIX and at its root on Windows.
    for rel in ("bin/python", "bin/python3", "python.exe"):
        cand = prefix / rel
        if cand.exists():
            return cand
    raise UsageError(
        f"CONDA_PREFIX names {prefix}, which has no bin/python: activate a conda environment that has Python, "
        "or pass --python PATH or --venv DIR."
    )


def _identify(python: Path, source: str, reason: str) -> Target:
    # Absolute, not resolved: a venv's python is a symlink whose own path selects the venv, and a
    # relative path must keep naming the same file when a probe runs in another working folder.
    python = Path(os.path.abspath(python))
    if not python.exists():
        raise UsageError(f"{python} does not exist.")
    if python.is_dir():
        raise UsageError(f"{python} is a folder; pass an interpreter with --python or a folder with --venv.")
    if not os.access(python, os.X_OK):
        raise UsageError(f"{python} is not executable.")
    try:
        ran = run_json(
            python, ["-c", _IDENTIFY], what="identifying the interpreter", timeout=30, require_exit_zero=True
        )
    except InsideError:
        raise UsageError(f"{python} is not a working Python interpreter.") from None
    info = read_identity(python, ran.stdout)
    return Target(
        python=python,
        source=source,
        reason=reason,
        version=info["version"],
        prefix=info["prefix"],
        is_venv=info["prefix"] != info["base_prefix"],
    )


def read_identity(python: Path, stdout: str) -> dict[str, str]:
    """The interpreter's answer to _IDENTIFY, checked: anything else is one sentence (UsageError)."""
    info = last_json_object(stdout)
    if info is None or not all(isinstance(info.get(k), str) for k in ("version", "prefix")):
        raise UsageError(f"{python} is not a working Python interpreter.")
    m = re.match(r"(\d+)\.(\d+)\.\d+$", info["version"])
    if m is None:
        raise UsageError(f"{python} reports the version {info['version'][:40]!r}, which is not a Python version.")
    if (int(m.group(1)), int(m.group(2))) < MIN_TARGET:
        raise UsageError(
            f"{python} is Python {info['version']}; envdoctor treats Python {MIN_TARGET[0]}.{MIN_TARGET[1]} "
            "and newer (MuseTalk needs 3.10 or 3.11)."
        )
    base = info.get("base_prefix")
    return {
        "version": info["version"],
        "prefix": info["prefix"],
        "base_prefix": base if isinstance(base, str) else info["prefix"],
    }


def resolve(
    python: str | None = None,
    venv: str | None = None,
    *,
    cwd: Path | None = None,
    environ: dict[str, str] | None = None,
) -> Target:
    """Pick the target interpreter; raise UsageError with one sentence when it is not usable."""
    environ = dict(os.environ if environ is None else environ)
    cwd = cwd or Path.cwd()
    if python and venv:
        raise UsageError("Pass either --python or --venv, not both.")
    if python:
        # A bare name (python3.11) is looked up on PATH, as a shell would.
        found = shutil.which(python, path=environ.get("PATH")) if os.sep not in python else None
        path = Path(found) if found and not Path(python).exists() else Path(python)
        return _identify(path, "--python", f"{python}, given with --python")
    if venv:
        v = Path(venv)
        if not v.is_dir():
            raise UsageError(f"{venv} does not exist or is not a folder.")
        return _identify(_venv_python(v), "--venv", f"the virtual environment {venv}, given with --venv")
    active = environ.get("VIRTUAL_ENV")
    if active and Path(active).is_dir():
        return _identify(
            _venv_python(Path(active)), "VIRTUAL_ENV", f"the active virtual environment {active} (VIRTUAL_ENV)"
        )
    conda = environ.get("CONDA_PREFIX")
    if conda and Path(conda).is_dir():
        # uv's order: an active conda environment comes after VIRTUAL_ENV and before ./.venv.
        return _identify(
            _conda_python(Path(conda)), "CONDA_PREFIX", f"the active conda environment {conda} (CONDA_PREFIX)"
        )
    local = cwd / ".venv"
    if local.is_dir():
        return _identify(_venv_python(local), "./.venv", f"{local}, because no virtual or conda environment is active")
    found = shutil.which("python3", path=environ.get("PATH"))
    if found:
        return _identify(Path(found), "PATH", f"{found}, python3 on PATH: no active virtualenv and no ./.venv")
    raise UsageError("No Python found: pass --python PATH or --venv DIR.")


def current() -> Target:
    """The interpreter envdoctor itself runs on (for tests and self-checks)."""
    return _identify(Path(sys.executable), "--python", f"{sys.executable}")
