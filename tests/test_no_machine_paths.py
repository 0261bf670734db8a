"""No tracked file names a path of one particular machine, or anything else outside the repository (reference
notes, numbers of the tracker it was built from): tests and tools take local paths from environment variables or
discovery (tests/envkit.py), so a clone works, or skips saying why, anywhere."""

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
            # Those notes by name: what the project takes from them is written into its own docs and data
            # (the project's own catalog is data/breakers.toml).
            "(breakers|musetalk|openmmlab|lipsync|anchors|design)" + r"\.md",
            r"/\." + "mirror",  # a local mirror of another project
            # A number in the tracker this project was built from: say what it means instead. (A public thread
            # is named by its address or owner/repo#N, which this does not match.)
            r"\b[Ii]" + r"ssues? #?\d+",
            r"\(" + r"#\d+\)",
        ]
    )
)


# The explain corpus quotes users' tracebacks and posts as they were written: their home folders
# (under home or root) and their conda installs (under opt) are theirs, not this machine's, and
# an issue number there is one of their tracker's, so only those patterns are allowed there.
QUOTED = "tests/explain_corpus/"
THEIRS = re.compile("/" + r"home/[a-z]|/" + r"root/|/" + r"opt/|\b[Ii]" + r"ssues? #?\d+|\(" + r"#\d+\)")


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
            if found and str(path.relative_to(REPO)).startswith(QUOTED) and THEIRS.fullmatch(found.group()):
                found = next((m for m in MACHINE_PATHS.finditer(line) if not THEIRS.fullmatch(m.group())), None)
            if found:
                hits.append(f"{path.relative_to(REPO)}:{number}: {line.strip()[:120]}")
    assert not hits, "machine paths or outside references in tracked files:\n" + "\n".join(hits)


def test_the_pattern_catches_what_it_is_for() -> None:
    assert MACHINE_PATHS.search("TORCH_WHEELS = '/" + "opt/wheels'")
    assert MACHINE_PATHS.search("~/." + "pyenv/versions/3.12.1/bin/python3.12")
    assert not MACHINE_PATHS.search("mirror-symmetric about the centre line; /tmp/envdoctor-smoke-x")
    assert MACHINE_PATHS.search("The thresholds come from " + "lipsync" + ".md (prototype on synthetic clips)")
    assert MACHINE_PATHS.search("# MuseTalk's pins (" + "musetalk" + ".md)")
    assert MACHINE_PATHS.search("Target (" + "issue" + " 2): check / floor <= 1.5")
    assert MACHINE_PATHS.search("does not build in isolation (" + "#9).")
    assert not MACHINE_PATHS.search("see docs/smoke.md and README.md; breaker #9; TMElyralab/MuseTalk#45")
