"""A bundle's wheels/ and SHA256SUMS for the tests, as `envdoctor bundle deploy/` makes them.

Until the tests can run `envdoctor bundle`, `fill` puts into deploy/wheels/ every wheel the lock names
(copied from the folders the environment was built from), the wheel of this checkout (`uv build`) and
envdoctor's own dependencies (pip download: PyPI, or the machine's configured local indexes), then writes
SHA256SUMS over the bundle. One call, so that the tests swap it for `envdoctor bundle` in one place.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from envdoctor.deploy import envlock
from envdoctor.uv import find_uv

REPO = Path(__file__).resolve().parent.parent


def write_sums(deploy: Path) -> Path:
    """deploy/SHA256SUMS in sha256sum's format, over the lock and every wheel."""
    files = [deploy / envlock.PYLOCK, deploy / envlock.REQUIREMENTS, *sorted((deploy / envlock.WHEELS).glob("*.whl"))]
    lines = [f"{hashlib.sha256(f.read_bytes()).hexdigest()}  {f.relative_to(deploy)}" for f in files]
    sums = deploy / "SHA256SUMS"
    sums.write_text("\n".join(lines) + "\n")
    return sums


def copy_locked(deploy: Path, sources: Sequence[Path]) -> None:
    """Every wheel the lock names into deploy/wheels/, from the first of `sources` that has it."""
    wheels = deploy / envlock.WHEELS
    wheels.mkdir(exist_ok=True)
    _head, entries = envlock.read(deploy)
    for entry in entries.values():
        assert entry.filename, f"{entry.name} is locked without a wheel"
        if (wheels / entry.filename).is_file():
            continue
        found = next((s / entry.filename for s in sources if (s / entry.filename).is_file()), None)
        assert found is not None, f"{entry.filename} is in none of {sources}"
        shutil.copy2(found, wheels / entry.filename)


def fill(deploy: Path, sources: Sequence[Path]) -> Path:
    """The whole bundle around the lock in `deploy`; returns the envdoctor wheel. Needs PyPI or local indexes."""
    copy_locked(deploy, sources)
    wheels = deploy / envlock.WHEELS
    find_uv().run(["build", "--quiet", "--wheel", "--out-dir", str(wheels), str(REPO)])
    tool = sorted(wheels.glob("envdoctor-*.whl"))[-1]
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--quiet",
            "--only-binary",
            ":all:",
            "--dest",
            str(wheels),
            str(tool),
        ],
        check=True,
    )
    write_sums(deploy)
    return tool
