"""Which distribution to name in an install command for a module, and only when envdoctor knows it.

A module's name is never taken for its distribution's: PyPI's `iou` is an unrelated project, not the
helper MuseTalk's S3FD detector tries first, and installing a same-named stranger runs its code. What is
known comes from the target's installed metadata, envdoctor's table (data/distributions.toml) and the
checkout's own requirements.txt.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

from envdoctor.datafiles import load

REQUIREMENTS_LIMIT = 1_000_000
"""Bytes of a checkout's requirements.txt that are read: a real one is a few hundred."""
_REQUIREMENT = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?")


def normalize(name: str) -> str:
    """PEP 503: `Huggingface_Hub` and `huggingface-hub` are one distribution."""
    return re.sub(r"[-_.]+", "-", name).lower()


def known(module: str) -> tuple[str, ...]:
    """The distributions envdoctor's table says install the top-level module of `module`, the usual one first."""
    table: dict[str, list[str]] = load("distributions.toml")["modules"]
    return tuple(table.get(module.split(".")[0], ()))


def read_requirements(path: Path) -> tuple[str, ...]:
    """The distribution names a requirements file lists (options, URLs and includes left out)."""
    try:
        with open(path, "rb") as fh:
            text = fh.read(REQUIREMENTS_LIMIT).decode("utf-8", "replace")
    except OSError:
        return ()
    names: list[str] = []
    for raw in text.splitlines():
        line = raw.split(" #", 1)[0].strip()
        if not line or line.startswith(("#", "-")):
            continue
        # A bare URL (git+https://...) names no distribution; `name @ URL` does.
        if "://" in line and "@" not in line.split("://", 1)[0]:
            continue
        m = _REQUIREMENT.match(line)
        if m:
            names.append(m.group(0))
    return tuple(dict.fromkeys(names))


def install_name(module: str, *, requirements: Iterable[str] = (), installed: Iterable[str] = ()) -> str | None:
    """The distribution an install command for `module` names, or None when none is known.

    `installed` are the target's distributions whose metadata declares the module (top_level / RECORD):
    reinstalling one of them is right whatever its name. Of the table's providers, the one the checkout's
    requirements.txt lists wins (opencv-python-headless over opencv-python where it says so). A requirement
    of the module's own name counts only because the checkout itself declares that distribution.
    """
    for dist in installed:
        return dist
    declared = {normalize(r): r for r in requirements}
    table = known(module)
    for dist in table:
        if normalize(dist) in declared:
            return dist
    if table:
        return table[0]
    return declared.get(normalize(module.split(".")[0]))
