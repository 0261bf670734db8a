"""No tracked file names a path of one particular machine: tests and tools take local paths from
environment variables or discovery (tests/envkit.py), so a clone works, or skips saying why, anywhere."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

# Folders that belong to one machine or one user's set-up, never to the project. Spelled in pieces so
# that this file does not match itself.
MACHINE_PATHS = re.compile(
    "|".join(
        [
            "/" + "opt/",  # local wheels and indexes
            "/" + "work/",  # a workspace
            "/" + "root/",  # a home folder
            "/" + "home/[a-z]",
            r"\." + "pyenv",  # one way of installing interpreters
            r"\.\./" + "shared",  # reference notes beside the repository
            "breakers" + r"\.md",  # one of those notes, by name: the project's own catalog is data/breakers.toml
            r"/\." + "mirror",  # a local mirror of another project
        ]
    )
)


# The explain corpus quotes users' tracebacks as they were posted: their home folders (/home/<user>/...) are
# theirs, not this machine's, so only that one pattern is allowed there.
QUOTED = "tests/explain_corpus/"
USER_HOME = re.compile("/" + "home/[a-z]")


def _tracked() -> list[Path]:
    if not (REPO / ".git").exists() or not shutil.which("git"):
        pytest.skip("not a git checkout: the tracked files are unknown")
    names = subprocess.run(["git", "-C", str(REPO), "ls-files", "-z"], capture_output=True, check=True).stdout
    return [REPO / n for n in names.decode().split("\0") if n]


def test_no_tracked_file_names_a_machine_path() -> None:
    hits = []
    for path in _tracked():
        if not path.is_file():
            continue  # deleted in the work tree, not yet committed
        data = path.read_bytes()
        if b"\0" in data[:4096]:
            continue  # binary (the speech clip)
        for number, line in enumerate(data.decode(errors="replace").splitlines(), 1):
            found = MACHINE_PATHS.search(line)
            if found and str(path.relative_to(REPO)).startswith(QUOTED) and USER_HOME.fullmatch(found.group()):
                found = next((m for m in MACHINE_PATHS.finditer(line) if not USER_HOME.fullmatch(m.group())), None)
            if found:
                hits.append(f"{path.relative_to(REPO)}:{number}: {line.strip()[:120]}")
    assert not hits, "machine paths in tracked files:\n" + "\n".join(hits)


def test_the_pattern_catches_what_it_is_for() -> None:
    assert MACHINE_PATHS.search("TORCH_WHEELS = '/" + "opt/wheels'")
    assert MACHINE_PATHS.search("~/." + "pyenv/versions/3.12.1/bin/python3.12")
    assert not MACHINE_PATHS.search("mirror-symmetric about the centre line; /tmp/envdoctor-smoke-x")
