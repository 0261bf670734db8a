"""`envdoctor wheelhouse` for people: what was indexed and how to serve it; the wheels a folder holds."""

from __future__ import annotations

from pathlib import Path

from envdoctor.wheelhouse import IndexResult, ListedWheel


def indexed(result: IndexResult, folder: Path) -> str:
    total = sum(n for _p, n in result.projects)
    lines = [f"indexed {total} wheels of {len(result.projects)} projects: {result.root}/index.html"]
    lines += [f"  {name}: {n}" for name, n in result.projects]
    lines += [
        f"serve {folder} (e.g. `python -m http.server -d {folder} 8000`), then on each machine:",
        "  envdoctor fix --wheel-index http://HOST:8000/simple/",
    ]
    return "\n".join(lines)


def listed(rows: list[ListedWheel], folder: Path) -> str:
    lines = []
    for r in rows:
        built = f"torch {r.torch} {r.platform}" if r.torch else "no torch label"
        if r.device is not None:
            built += ", kernels for " + (r.device.describe() or "no GPU")
        lines.append(f"{r.file}  ({built})")
    if not rows:
        lines.append(f"no wheels under {folder}")
    return "\n".join(lines)
