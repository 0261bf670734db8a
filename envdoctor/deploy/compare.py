"""An environment against a team's lock: each distribution that differs, as one kind of difference."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from envdoctor.deploy.envlock import LockedEntry
from envdoctor.deploy.inventory import Installed


@dataclass(frozen=True)
class Missing:
    name: str
    locked: str

    def sentence(self) -> str:
        return f"{self.name}: locked at {self.locked}, not installed"


@dataclass(frozen=True)
class Extra:
    name: str
    installed: str

    def sentence(self) -> str:
        return f"{self.name}: {self.installed} installed, not in the lock"


@dataclass(frozen=True)
class VersionDiffers:
    name: str
    locked: str
    installed: str

    def sentence(self) -> str:
        return f"{self.name}: locked at {self.locked}, {self.installed} installed"


@dataclass(frozen=True)
class HashDiffers:
    name: str
    version: str

    def sentence(self) -> str:
        return f"{self.name} {self.version}: its files are not those of the locked wheel (hash differs)"


Difference = Missing | Extra | VersionDiffers | HashDiffers


def compare(locked: Mapping[str, LockedEntry], installed: Sequence[Installed]) -> tuple[Difference, ...]:
    """Every difference, by name; empty when the environment is the lock."""
    have = {d.name: d for d in installed}
    out: list[Difference] = []
    for name in sorted(set(locked) | set(have)):
        lk, got = locked.get(name), have.get(name)
        if got is None and lk is not None:
            out.append(Missing(name, lk.version))
        elif lk is None and got is not None:
            out.append(Extra(name, got.version))
        elif lk is not None and got is not None:
            if lk.version != got.version:
                out.append(VersionDiffers(name, lk.version, got.version))
            elif lk.record_sha256 and lk.record_sha256 != got.record_sha256:
                out.append(HashDiffers(name, got.version))
    return tuple(out)
