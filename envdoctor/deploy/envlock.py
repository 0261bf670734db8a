"""The lock of a live environment: deploy/pylock.toml (PEP 751) and deploy/requirements.txt (hashed).

Every distribution is pinned with the wheel it came from (its file, URL, index and sha256); the wheels
envdoctor built are copied into deploy/wheels/ and named there. Beside each package the lock keeps, under
`[packages.tool.envdoctor]`, the wheel's tags and the digest of the files its RECORD lists, so that
`lock --check` compares an environment without the network. The head holds the target, the strategy and
the model manifest.
"""

from __future__ import annotations

import json
import platform
import shutil
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from envdoctor import __version__
from envdoctor.deploy.hashes import Sources, WheelSource
from envdoctor.deploy.inventory import Installed
from envdoctor.errors import EnvdoctorError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

PYLOCK = "pylock.toml"
REQUIREMENTS = "requirements.txt"
WHEELS = "wheels"


class Unhashed(EnvdoctorError):
    """Some distribution's wheel hash cannot be known: the lock would not reproduce it."""

    code = "lock-unhashed"
    exit_code = 1


@dataclass(frozen=True)
class Locked:
    dist: Installed
    wheel: WheelSource | None


@dataclass(frozen=True)
class EnvLock:
    packages: tuple[Locked, ...]
    python: str
    platform: str
    accelerator: str
    strategy: str | None = None
    models: tuple[dict[str, Any], ...] = ()
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def unhashed(self) -> tuple[str, ...]:
        return tuple(p.dist.name for p in self.packages if p.wheel is None)


def build(
    dists: Sequence[Installed],
    sources: Sources,
    *,
    python: str,
    accelerator: str,
    strategy: str | None = None,
    models: Sequence[dict[str, Any]] = (),
    allow_unhashed: bool = False,
) -> EnvLock:
    """The lock of these distributions; raises Unhashed (naming them) unless `allow_unhashed`."""
    packages = tuple(Locked(d, None if d.editable else sources.find(d)) for d in dists)
    lock = EnvLock(
        packages,
        python=python,
        platform=f"{platform.system().lower()}-{platform.machine()}",
        accelerator=accelerator,
        strategy=strategy,
        models=tuple(models),
    )
    if lock.unhashed and not allow_unhashed:
        raise Unhashed(
            f"no wheel with a known sha256 for {', '.join(lock.unhashed)} (not in envdoctor's wheelhouse, "
            "pip's configured folders or indexes, or PyPI): the lock could not reproduce them; "
            "pass --allow-unhashed to lock them by version only."
        )
    return lock


def _s(value: str) -> str:
    return json.dumps(value)  # a TOML basic string is a JSON string for what a lock holds


def write(lock: EnvLock, out: Path) -> tuple[Path, Path]:
    """pylock.toml and requirements.txt in `out`; envdoctor's own wheels copied into out/wheels/."""
    out.mkdir(parents=True, exist_ok=True)
    wheels = out / WHEELS
    lines = [
        'lock-version = "1.0"',
        f"created-by = {_s('envdoctor ' + __version__)}",
        f"requires-python = {_s('==' + lock.python)}",
        "",
        "[tool.envdoctor]",
        f"python = {_s(lock.python)}",
        f"platform = {_s(lock.platform)}",
        f"accelerator = {_s(lock.accelerator)}",
        f"strategy = {_s(lock.strategy or '')}",
        f"models = {_s(json.dumps(list(lock.models), sort_keys=True))}",
        "",
    ]
    req = [
        f"# envdoctor {__version__}: the environment as locked (Python {lock.python}, {lock.platform}, "
        f"{lock.accelerator}). Install with: uv pip install --require-hashes --no-deps -r requirements.txt",
    ]
    for p in lock.packages:
        lines += ["[[packages]]", f"name = {_s(p.dist.name)}", f"version = {_s(p.dist.version)}"]
        w = p.wheel
        if w is not None:
            url = w.url
            if w.built_by_envdoctor:
                wheels.mkdir(exist_ok=True)
                src = Path(w.url.removeprefix("file://"))
                shutil.copy2(src, wheels / w.filename)
                url = f"{WHEELS}/{w.filename}"
            lines += [f"index = {_s(w.index)}"] if not w.built_by_envdoctor else []
            lines += [
                "[[packages.wheels]]",
                f"name = {_s(w.filename)}",
                f"{'path' if w.built_by_envdoctor else 'url'} = {_s(url)}",
                f"hashes = {{ sha256 = {_s(w.sha256)} }}",
            ]
            req.append(f"{p.dist.name}=={p.dist.version} --hash=sha256:{w.sha256}")
        else:
            req.append(f"# unhashed: {p.dist.name}=={p.dist.version}")
        lines += [
            "[packages.tool.envdoctor]",
            f"tags = {json.dumps(list(p.dist.tags))}",
            f"record-sha256 = {_s(p.dist.record_sha256)}",
            f"built-by-envdoctor = {'true' if w is not None and w.built_by_envdoctor else 'false'}",
            "",
        ]
    pylock, txt = out / PYLOCK, out / REQUIREMENTS
    pylock.write_text("\n".join(lines))
    txt.write_text("\n".join(req) + "\n")
    return pylock, txt


@dataclass(frozen=True)
class LockedEntry:
    name: str
    version: str
    sha256: str | None
    record_sha256: str
    filename: str | None
    url: str | None


def read(folder: Path) -> tuple[dict[str, Any], dict[str, LockedEntry]]:
    """The head (`[tool.envdoctor]`) and the packages of folder/pylock.toml."""
    path = folder / PYLOCK
    if not path.is_file():
        raise EnvdoctorError(f"{folder} holds no {PYLOCK}: make one with `envdoctor lock --output {folder}`.")
    try:
        doc = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise EnvdoctorError(f"{path} is not valid TOML: {exc}.") from None
    entries: dict[str, LockedEntry] = {}
    for pkg in doc.get("packages", []):
        wheel = (pkg.get("wheels") or [{}])[0]
        tool = (pkg.get("tool") or {}).get("envdoctor") or {}
        entries[pkg["name"]] = LockedEntry(
            name=pkg["name"],
            version=pkg.get("version", ""),
            sha256=(wheel.get("hashes") or {}).get("sha256"),
            record_sha256=tool.get("record-sha256", ""),
            filename=wheel.get("name"),
            url=wheel.get("url") or wheel.get("path"),
        )
    return (doc.get("tool") or {}).get("envdoctor") or {}, entries
