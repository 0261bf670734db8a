"""Runs inside the target (stdlib only, Python 3.8+): every installed distribution, as its metadata says.

For each: name, version, the wheel tags its WHEEL file records, direct_url.json when there is one, and the
sha256 of what its RECORD says the wheel's files are. Prints one JSON object.
"""

import hashlib
import json
import sys

try:
    from importlib import metadata
except ImportError:  # pragma: no cover - Python 3.7 is not a target
    sys.exit(2)


_INSTALLER_FILES = ("RECORD", "INSTALLER", "REQUESTED", "direct_url.json", "uv_cache.json", "uv_build.json")


def _one(dist):
    wheel = dist.read_text("WHEEL") or ""
    tags = sorted(line.split(":", 1)[1].strip() for line in wheel.splitlines() if line.startswith("Tag:"))
    record = dist.read_text("RECORD") or ""
    # The files the wheel brought, as its RECORD hashes them: not the installer's own files, and not
    # the scripts outside site-packages (their shebang names this environment), so two installs of
    # one wheel agree.
    kept = sorted(
        line
        for line in record.splitlines()
        if line.strip()
        and not line.startswith("../")
        and line.split(",", 1)[0].rsplit("/", 1)[-1] not in _INSTALLER_FILES
        and ".pyc," not in line
    )
    direct = dist.read_text("direct_url.json")
    try:
        direct_url = json.loads(direct) if direct else None
    except ValueError:
        direct_url = None
    return {
        "name": dist.metadata["Name"] or "",
        "version": dist.version or "",
        "tags": tags,
        "installer": (dist.read_text("INSTALLER") or "").strip(),
        "direct_url": direct_url,
        "record_sha256": hashlib.sha256("\n".join(kept).encode()).hexdigest() if kept else "",
    }


def main():
    seen = {}
    for dist in metadata.distributions():
        item = _one(dist)
        key = item["name"].lower().replace("_", "-").replace(".", "-")
        if key and key not in seen:  # the first on sys.path is the one that imports
            seen[key] = item
    print(json.dumps({"distributions": [seen[k] for k in sorted(seen)]}))


if __name__ == "__main__":
    main()
