"""Rendering of `bundle` (envdoctor.bundle v1) and `fix --from` (envdoctor.reproduce v1): text and JSON."""

from __future__ import annotations

from typing import Any

from rich.console import Console

from envdoctor.deploy.bundle import AlreadyThere, Built, Bundle, Copied, Downloaded, Placed
from envdoctor.deploy.reproduce import Reproduced
from envdoctor.document import head
from envdoctor.report import check_json, check_text


def _mb(n: int) -> str:
    return f"{n / 1e6:.1f} MB"


def _how(p: Placed) -> str:
    match p:
        case AlreadyThere():
            return "already there, hash verified"
        case Copied(source=src):
            return f"copied from {src}, hash verified"
        case Downloaded(url=url):
            return f"downloaded from {url}, hash verified"
        case Built(source=src):
            return f"built from {src}"


def _kind(p: Placed) -> str:
    return type(p).__name__


def bundle_text(b: Bundle) -> str:
    fetched = [p for p in b.wheels if not isinstance(p, AlreadyThere)]
    lines = [
        f"Bundled {b.folder}: {len(b.wheels)} wheel(s) of the lock in {b.folder / 'wheels'} "
        f"({len(fetched)} placed now, {len(b.wheels) - len(fetched)} already there), every sha256 equal to the lock's.",
    ]
    lines += [f"  {p.filename} ({_mb(p.size)}): {_how(p)}" for p in fetched]
    if b.tool:
        lines.append(
            f"envdoctor and {len(b.tool) - 1} wheel(s) it needs in {b.folder / 'tool'} "
            f"({_mb(sum(p.size for p in b.tool))}); {_how(b.tool[0])}: {b.tool[0].filename}"
        )
    else:
        lines.append("envdoctor itself is not in the bundle (--no-tool): the target machine needs it installed.")
    for m in b.models:
        lines.append(f"  {m.path} ({_mb(m.size)}): " + ("hash verified" if m.verified else "copied, no sha256 known"))
    if b.models_absent:
        lines.append(f"  not in the models folder, so not bundled: {', '.join(b.models_absent)}")
    lines.append(f"{b.sums}: {b.files} files (check with `cd {b.folder} && sha256sum -c {b.sums.name}`).")
    lines.append(f"Size: {_mb(b.size_before)} before, {_mb(b.size_after)} after ({b.seconds:.1f} s).")
    return "\n".join(lines)


def _placed(p: Placed) -> dict[str, Any]:
    out: dict[str, Any] = {"file": p.filename, "size": p.size, "how": _kind(p)}
    match p:
        case Copied(source=src) | Built(source=src):
            out["source"] = src
        case Downloaded(url=url):
            out["url"] = url
    return out


def bundle_json(b: Bundle) -> dict[str, Any]:
    return {
        **head("envdoctor.bundle"),
        "folder": str(b.folder),
        "wheels": [_placed(p) for p in b.wheels],
        "tool": [_placed(p) for p in b.tool],
        "models": [{"path": m.path, "size": m.size, "verified": m.verified} for m in b.models],
        "models_absent": list(b.models_absent),
        "sha256sums": str(b.sums),
        "files": b.files,
        "size_before": b.size_before,
        "size_after": b.size_after,
        "seconds": b.seconds,
    }


def reproduce_text(r: Reproduced, console: Console) -> None:
    console.print(
        f"Installed {r.packages} distributions from {r.folder} into {r.target.prefix} in {r.install_seconds:.1f} s "
        "(no index, every hash required)."
    )
    if r.differences:
        console.print(f"FAILED: {len(r.differences)} distribution(s) differ from the lock:")
        for d in r.differences:
            console.print(f"  {d.sentence()}")
    else:
        console.print("Verified: every distribution and the digest of its installed files equal the lock.")
    if r.ffmpeg:
        console.print(r.ffmpeg, markup=False)
    check_text.render(r.check, console)


def reproduce_json(r: Reproduced) -> dict[str, Any]:
    return {
        **head("envdoctor.reproduce"),
        "from": str(r.folder),
        "target": r.target.to_dict(),
        "created": r.created,
        "packages": r.packages,
        "install_seconds": r.install_seconds,
        "matches_lock": not r.differences,
        "differences": [{"kind": type(d).__name__, "name": d.name, "sentence": d.sentence()} for d in r.differences],
        "ffmpeg": r.ffmpeg,
        "check": check_json.to_document(r.check, include_facts=False),
        "seconds": r.seconds,
        "exit_code": r.exit_code,
    }
