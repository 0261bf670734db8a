"""The cells of envdoctor's lockfile matrix: one target (strategy, set, Python, accelerator, platform)
per cell, its file names, and the committed matrix of lock.toml.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from envdoctor import lockgate
from envdoctor.datafiles import load
from envdoctor.strategies import names as strategy_names
from envdoctor.strategies.common import lock_name


def settings() -> dict[str, Any]:
    return load("lock.toml")


def _name_pattern() -> re.Pattern[str]:
    plats = "|".join(sorted(map(re.escape, lockgate.platforms()), key=len, reverse=True))
    return re.compile(
        rf"^(?P<strategy>{'|'.join(map(re.escape, strategy_names()))})-(?P<set>.+)-py(?P<py>\d)(?P<minor>\d+)"
        rf"-(?P<acc>cpu|cu\d+|rocm[\d.]+)(?:-torch(?P<series>\d+\.\d+))?-(?P<platform>{plats})$"
    )


@dataclass(frozen=True)
class LockTarget:
    strategy: str
    set_name: str
    python: str  # "3.11"
    accelerator: str  # cpu | cuXYZ
    platform: str
    """A key of lock.toml's [platform] table: linux (x86_64), linux-aarch64, macos (arm64), windows (amd64)."""
    torch_series: str | None = None
    """Only prebuilt: the wheel index is per torch series."""

    @property
    def name(self) -> str:
        acc = f"{self.accelerator}-torch{self.torch_series}" if self.torch_series else self.accelerator
        return lock_name(self.strategy, self.set_name, self.python, acc, self.platform)

    @property
    def os(self) -> str:
        return lockgate.platforms()[self.platform].os

    @classmethod
    def parse(cls, name: str) -> LockTarget:
        m = _name_pattern().match(name)
        if not m:
            raise ValueError(f"{name} is not a lockfile name (strategy-set-pyXY-accelerator-platform)")
        return cls(m["strategy"], m["set"], f"{m['py']}.{m['minor']}", m["acc"], m["platform"], m["series"])


def committed_targets() -> tuple[LockTarget, ...]:
    """Every cell of lock.toml's [[committed]] matrix, whether the gate let it in or not."""
    return tuple(
        LockTarget(s, set_name, py, acc, plat)
        for row in settings()["committed"]
        for s in row["strategies"]
        for set_name in row["sets"]
        for py in row["python"]
        for acc in row["accelerators"]
        for plat in row["platforms"]
    )


def paths(t: LockTarget, directory: Path) -> tuple[Path, Path]:
    return directory / f"{t.name}.txt", directory / f"pylock.{t.name}.toml"


def copy_cell(t: LockTarget, source: Path, dest: Path) -> None:
    """Copy one cell's two lockfiles (tests edit copies, never the committed files)."""
    for p in paths(t, source):
        shutil.copy2(p, dest / p.name)
