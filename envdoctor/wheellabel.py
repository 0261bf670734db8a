"""The torch label a wheel carries in its local version: `2.1.0+pt2.13.0cpu`.

The convention of community indexes (MiroPsota/torch_packages_builder) and of envdoctor's own
`--build`: `+[<commit>]pt<torch version><compute platform>`, where the compute platform is torch's
own: `cpu`, `cu<CUDA>` or `rocm<ROCm>`. A wheel with this label says which torch it was compiled
against, so a wheelhouse needs no folder per torch.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from packaging.version import InvalidVersion, Version

_LABEL = re.compile(r"^(?P<commit>[0-9a-f]{7,40})?pt(?P<torch>\d+(?:\.\d+)*)(?P<platform>cpu|cu\d+|rocm\d+(?:\.\d+)*)$")


@dataclass(frozen=True)
class TorchLabel:
    torch: Version
    """The torch release the wheel was compiled against (2.13.0)."""
    platform: str
    """cpu, cuXYZ or rocmX.Y, as in torch's own local version."""
    commit: str | None = None

    def __str__(self) -> str:
        return f"{self.commit or ''}pt{self.torch}{self.platform}"


def parse_label(local: str | None) -> TorchLabel | None:
    """The label in a local version (`pt2.13.0cpu`, `864913fpt2.5.0cu124`); None when it has none."""
    m = _LABEL.match(local or "")
    if not m:
        return None
    try:
        return TorchLabel(Version(m["torch"]), m["platform"], m["commit"])
    except InvalidVersion:
        return None


def label_for(torch: Version, platform: str) -> TorchLabel:
    """The label for a wheel built against this torch (its local version dropped) on this platform."""
    return TorchLabel(Version(torch.base_version), platform)


def labelled(version: str | Version, label: TorchLabel) -> Version:
    return Version(f"{Version(str(version)).public}+{label}")
