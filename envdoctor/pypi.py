"""Source distributions from PyPI: the one place envdoctor downloads an sdist (PEP 691 JSON simple API).

The stub generator reads mmcv's sdist (ast only) and `--build` compiles mmcv's or xtcocotools'; both
take the file only when its sha256 is the one expected (given, else PyPI's own).
"""

from __future__ import annotations

import hashlib
import json
import os
import urllib.request
from pathlib import Path

from envdoctor.errors import EnvdoctorError

SIMPLE = "https://pypi.org/simple/{name}/"


class SdistError(EnvdoctorError, RuntimeError):
    """No sdist came: the message is the user's sentence."""

    code = "sdist-unavailable"


def download_sdist(name: str, version: str, dest: Path, expected_sha256: str | None = None) -> Path:
    """`<name>-<version>.tar.gz` from PyPI into `dest` (written whole or not at all), hash-checked."""
    wanted = f"{name}-{version}.tar.gz"
    request = urllib.request.Request(
        SIMPLE.format(name=name), headers={"Accept": "application/vnd.pypi.simple.v1+json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as resp:
            files = json.load(resp)["files"]
        entry = next((f for f in files if f["filename"] == wanted), None)
        if entry is None:
            raise SdistError(f"PyPI has no {wanted}.")
        with urllib.request.urlopen(entry["url"], timeout=300) as resp:
            data = resp.read()
    except OSError as exc:
        raise SdistError(f"could not download {wanted} from PyPI: {exc}.") from exc
    want = expected_sha256 or entry.get("hashes", {}).get("sha256")
    if not want:
        raise SdistError(f"PyPI gives no sha256 for {wanted}: not used.")
    got = hashlib.sha256(data).hexdigest()
    if got != want:
        raise SdistError(f"{wanted} from PyPI has sha256 {got}, expected {want}: not used.")
    dest.mkdir(parents=True, exist_ok=True)
    path = dest / wanted
    # A name of this process's own: two envdoctors fetching the same sdist never write into one part file.
    tmp = path.with_name(f"{wanted}.{os.getpid()}.part")
    tmp.write_bytes(data)
    tmp.replace(path)
    return path
