"""What a target has installed: one record per distribution, read by a stdlib probe inside it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from packaging.utils import canonicalize_name

from envdoctor.errors import EnvdoctorError
from envdoctor.inside import InsideError, run_json
from envdoctor.resources import probe_script
from envdoctor.target import Target


class InventoryError(EnvdoctorError):
    code = "inventory-failed"


@dataclass(frozen=True)
class Installed:
    name: str
    """Canonical (PEP 503) name."""
    version: str
    tags: tuple[str, ...]
    """The wheel tags its WHEEL file records (empty for a distribution not installed from a wheel)."""
    installer: str
    direct_url: dict[str, Any] | None
    record_sha256: str

    @property
    def editable(self) -> bool:
        info = (self.direct_url or {}).get("dir_info") or {}
        return bool(info.get("editable"))

    @property
    def local_wheel(self) -> str | None:
        """The file:// URL of the wheel it was installed from directly, if that is what direct_url.json says."""
        url = (self.direct_url or {}).get("url")
        if isinstance(url, str) and url.startswith("file://") and url.endswith(".whl"):
            return url
        return None


def read(target: Target) -> tuple[Installed, ...]:
    """Every distribution installed in `target`, by canonical name."""
    try:
        ran = run_json(
            target.python,
            [str(probe_script("envdoctor_dists"))],
            what="the distributions probe",
            timeout=120,
            require_exit_zero=True,
        )
    except InsideError as exc:
        raise InventoryError(f"could not list the distributions of {target.python}: {exc}.") from None
    items = ran.data.get("distributions") if isinstance(ran.data, dict) else None
    if not isinstance(items, list):
        raise InventoryError(f"the distributions probe in {target.python} gave no list.")
    out: list[Installed] = []
    for item in items:
        if not isinstance(item, dict) or not item.get("name"):
            continue
        direct = item.get("direct_url")
        out.append(
            Installed(
                name=canonicalize_name(str(item["name"])),
                version=str(item.get("version", "")),
                tags=tuple(str(t) for t in item.get("tags") or ()),
                installer=str(item.get("installer", "")),
                direct_url=direct if isinstance(direct, dict) else None,
                record_sha256=str(item.get("record_sha256", "")),
            )
        )
    return tuple(sorted(out, key=lambda d: d.name))
