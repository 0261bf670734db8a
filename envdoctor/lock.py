"""Pin a strategy's environment for a target (Python, accelerator, platform) with `uv pip compile`.

Each lockfile is written twice: requirements.txt with hashes, and PEP 751 `pylock.<name>.toml`.
Its header records every input and their sha256, the source builds it needs, and the sha256 of both
bodies, so `check()` can tell, without the network, whether a committed lockfile still matches what
envdoctor's data files say today and whether anything in it was edited by hand. Before anything is
written, the wheel gate (envdoctor.lockgate) must pass: a pin without a wheel for the target and
without a named source build makes `make()` refuse.

torch and torchvision are never in a lockfile: they are held where the user has them (or installed
first from the accelerator's torch index, which the header names), and left out of the resolution.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from envdoctor import lockgate, sources
from envdoctor.datafiles import load
from envdoctor.errors import EnvdoctorError
from envdoctor.resources import lockfiles_dir
from envdoctor.strategies import by_name
from envdoctor.strategies import names as strategy_names
from envdoctor.strategies.common import HELD, lock_name
from envdoctor.strategies.sets import active_constraints, excludes, extra_build_pairs, get_set
from envdoctor.uv import Indexes, Uv, UvError, find_uv, write_config

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

MARK = "# envdoctor lockfile: "
BUILD_MARK = "# source build: "
MATRIX = "matrix.json"
"""lockfiles/matrix.json: what `envdoctor-maint lock` made of every committed cell, refusals included."""


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


@dataclass(frozen=True)
class LockInputs:
    requirements: tuple[str, ...]
    constraints: tuple[str, ...]
    build_constraints: tuple[str, ...]
    excludes: tuple[str, ...]
    find_links: tuple[str, ...]
    python_version: str
    python_platform: str
    exclude_newer: str
    torch_index: str
    held: tuple[str, ...]
    notes: tuple[str, ...] = field(default=())
    extra_build: tuple[tuple[str, tuple[str, ...]], ...] = field(default=())

    def digest(self) -> str:
        return _digest(asdict(self))

    def to_dict(self) -> dict[str, object]:
        return asdict(self)

    @property
    def source_builds(self) -> tuple[str, ...]:
        """Packages the install step may build from source: those whose build the inputs spell out."""
        return tuple(name for name, _ in self.extra_build)


@dataclass(frozen=True)
class LockResult:
    target: LockTarget
    requirements_txt: Path
    pylock: Path
    packages: int
    builds: tuple[str, ...] = ()
    """Pins the install step builds from source (named in the header)."""


class LockRefused(EnvdoctorError, ValueError):
    """The wheel gate refused the resolution: a pin has no wheel for the target and no named build."""

    code = "lock-refused"
    exit_code = 1

    def __init__(self, target: LockTarget, gate: lockgate.GateResult) -> None:
        super().__init__(f"{target.name}: {gate.message()}")
        self.target = target
        self.gate = gate


@dataclass(frozen=True)
class LockfileCheck:
    """One lockfile (or left-out cell) of `envdoctor-maint lock --check`: does it still match its inputs?"""

    path: Path
    ok: bool
    message: str


def _settings() -> dict[str, Any]:
    return load("lock.toml")


def inputs_for(t: LockTarget) -> LockInputs:
    """Everything that decides the lockfile's content, read from envdoctor's data files."""
    settings = _settings()
    rset = get_set(t.set_name).for_target(t.python, t.os)
    try:
        strategy = by_name(t.strategy)
    except KeyError:
        raise ValueError(f"unknown strategy {t.strategy}") from None
    cell = strategy.lock_packages(rset, t.python, t.os, t.accelerator, t.torch_series)
    packages, find_links, notes = cell.requirements, cell.find_links, cell.notes
    if t.platform not in lockgate.platforms():
        raise ValueError(f"unknown platform {t.platform} (one of {', '.join(lockgate.platforms())})")
    # torch is unknown when locking: the torch rows are judged against the oldest torch this Python can have.
    cons = active_constraints(None, packages, t.python)
    return LockInputs(
        requirements=tuple(packages),
        constraints=tuple(dict.fromkeys(c.requirement for c in cons if not c.build)),
        build_constraints=tuple(dict.fromkeys(c.requirement for c in cons if c.build)),
        excludes=tuple(n for n, _ in excludes()) + HELD,
        find_links=find_links,
        python_version=t.python,
        python_platform=lockgate.platforms()[t.platform].uv,
        exclude_newer=str(settings["exclude_newer"]),
        torch_index=sources.torch_index(t.accelerator),
        held=HELD,
        notes=tuple(notes),
        extra_build=extra_build_pairs(t.python),
    )


def committed_targets() -> tuple[LockTarget, ...]:
    """Every cell of lock.toml's [[committed]] matrix, whether the gate let it in or not."""
    return tuple(
        LockTarget(s, set_name, py, acc, plat)
        for row in _settings()["committed"]
        for s in row["strategies"]
        for set_name in row["sets"]
        for py in row["python"]
        for acc in row["accelerators"]
        for plat in row["platforms"]
    )


def header(t: LockTarget, inputs: LockInputs, gate: lockgate.GateResult | None = None, body_sha: str = "") -> str:
    flags = f"--strategy {t.strategy} --set {t.set_name} --python-version {t.python} --accelerator {t.accelerator}"
    flags += f" --platform {t.platform}" + (f" --torch-series {t.torch_series}" if t.torch_series else "")
    plat = lockgate.platforms()[t.platform]
    builds = dict(inputs.extra_build)
    lines = [
        f"{MARK}{t.name}",
        f"# strategy {t.strategy}, requirement set {t.set_name}, Python {t.python}, {t.accelerator}, "
        f"{plat.label} ({inputs.python_platform})",
        f"# held, not in this file: {', '.join(inputs.held)}. Install them first from {inputs.torch_index},",
        "# then `uv pip install --no-deps --require-hashes -r` this file (`envdoctor fix` does both, and checks).",
        *[f"# note: {n}" for n in inputs.notes],
    ]
    if gate is not None:
        if not gate.builds:
            lines.append(f"# wheels only: every pin has a wheel for {gate.target}")
        for pin in gate.builds:
            name = str(canonicalize_name(pin.split("==")[0]))
            lines.append(
                f"{BUILD_MARK}{pin} (no wheel for {gate.target}): uv builds it from its sdist in fix's "
                f"{lockgate.BUILD_STEP} step, with {', '.join(builds.get(name, ())) or 'its declared requirements'} "
                "in the build environment (a C compiler is needed)"
            )
    lines += [
        f"# regenerate: envdoctor lock {flags}",
        f"# inputs-sha256: {inputs.digest()}",
        f"# body-sha256: {body_sha}",
        f"# inputs: {json.dumps(inputs.to_dict(), sort_keys=True)}",
    ]
    return "\n".join(lines) + "\n"


def read_header(path: Path) -> dict[str, Any]:
    out: dict[str, Any] = {"builds": []}
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            if not line.startswith("#"):
                break
            if line.startswith(MARK):
                out["name"] = line[len(MARK) :].strip()
            elif line.startswith("# inputs-sha256: "):
                out["sha256"] = line.split(":", 1)[1].strip()
            elif line.startswith("# body-sha256: "):
                out["body_sha256"] = line.split(":", 1)[1].strip()
            elif line.startswith(BUILD_MARK):
                out["builds"].append(line[len(BUILD_MARK) :].split(" ", 1)[0])
            elif line.startswith("# inputs: "):
                out["inputs"] = json.loads(line.split(":", 1)[1])
                break
    return out


def split_body(text: str) -> str:
    """What follows the header (which ends with the `# inputs:` line)."""
    lines = text.splitlines(keepends=True)
    for i, line in enumerate(lines):
        if line.startswith("# inputs: "):
            return "".join(lines[i + 1 :])
        if not line.startswith("#"):
            break
    return text


def body_digest(txt_body: str, pylock_body: str) -> str:
    """One digest over both bodies: an edit to either, or a swap of one, changes it."""
    return hashlib.sha256(f"{txt_body}\0{pylock_body}".encode()).hexdigest()


def paths(t: LockTarget, directory: Path) -> tuple[Path, Path]:
    return directory / f"{t.name}.txt", directory / f"pylock.{t.name}.toml"


def make(
    t: LockTarget,
    directory: Path | None = None,
    *,
    uv: Uv | None = None,
    inputs: LockInputs | None = None,
    indexes: Indexes | None = None,
) -> LockResult:
    """Resolve `t` with uv, pass it through the wheel gate and write both lockfiles.

    Raises UvError when it does not resolve and LockRefused when the gate refuses; nothing is written then.
    """
    uv = uv or find_uv()
    directory = directory or lockfiles_dir()
    directory.mkdir(parents=True, exist_ok=True)
    inputs = inputs or inputs_for(t)
    indexes = indexes or Indexes()
    txt, pylock = paths(t, directory)
    with tempfile.TemporaryDirectory(prefix="envdoctor-lock-") as tmp:
        work = Path(tmp)
        files = {}
        for key, lines in (
            ("in", inputs.requirements),
            ("constraints", inputs.constraints),
            ("build", inputs.build_constraints),
            ("excludes", inputs.excludes),
        ):
            files[key] = Path(f"{t.name}.{key}.txt")
            (work / files[key]).write_text("\n".join(lines) + "\n")
        config = None
        if inputs.extra_build:
            config = write_config(work, inputs.extra_build)
        idx = Indexes(
            index_url=indexes.index_url,
            extra_index_urls=indexes.extra_index_urls,
            find_links=(*inputs.find_links, *indexes.find_links),
            strategy=indexes.strategy,
            no_index=indexes.no_index,
        )
        for fmt, out in ((None, Path("lock.txt")), ("pylock.toml", Path("pylock.toml"))):
            uv.pip_compile(
                files["in"],
                out,
                python_version=inputs.python_version,
                python_platform=inputs.python_platform,
                constraints=[files["constraints"]] if inputs.constraints else [],
                build_constraints=[files["build"]] if inputs.build_constraints else [],
                excludes=[files["excludes"]],
                indexes=idx,
                generate_hashes=fmt is None,
                exclude_newer=inputs.exclude_newer,
                fmt=fmt,
                cwd=work,
                config_file=config,
            )
        txt_body = (work / "lock.txt").read_text()
        pylock_body = (work / "pylock.toml").read_text()
        verdict = lockgate.gate(lockgate.read_pylock(work / "pylock.toml"), t.python, t.platform, inputs.source_builds)
        if not verdict.ok:
            raise LockRefused(t, verdict)
        head = header(t, inputs, verdict, body_digest(txt_body, pylock_body))
        txt.write_text(head + txt_body)
        pylock.write_text(head + pylock_body)
    return LockResult(t, txt, pylock, sum(1 for _ in pins(txt)), verdict.builds)


def pins(path: Path) -> Iterator[str]:
    """The `name==version` lines of a requirements lockfile."""
    yield from _pin_lines(path.read_text())


def _pin_lines(text: str) -> Iterator[str]:
    for line in text.splitlines():
        if line and not line.startswith((" ", "#", "-")):
            yield line.split(" ")[0].rstrip("\\").strip()


@dataclass(frozen=True)
class Pin:
    name: str
    version: str
    marker: str | None
    hashes: frozenset[str]


def read_requirements(text: str) -> dict[str, Pin]:
    """The pins of a hashed requirements lockfile: name, version, marker and `--hash` values."""
    blocks: list[tuple[str, list[str]]] = []
    for raw in text.splitlines():
        stripped = raw.strip()
        if not stripped or stripped.startswith("#"):
            continue
        body = stripped.rstrip("\\").strip()
        if raw[:1].isspace() or body.startswith("--"):
            if blocks:  # a continuation line of the pin above: its hashes
                blocks[-1][1].extend(tok.split("=", 1)[1] for tok in body.split() if tok.startswith("--hash="))
        else:
            blocks.append((body, []))
    out: dict[str, Pin] = {}
    for line, hashes in blocks:
        req = Requirement(line)
        exact = [s.version for s in req.specifier if s.operator == "=="]
        name = str(canonicalize_name(req.name))
        marker = str(req.marker) if req.marker else None
        out[name] = Pin(name, exact[0] if exact else str(req.specifier), marker, frozenset(hashes))
    return out


def _pylock_pins(pylock_text: str, t: LockTarget) -> dict[str, Pin]:
    """The pylock's packages that install on the target, with every artifact hash."""
    out = {}
    for pkg in tomllib.loads(pylock_text).get("packages", []):
        art = lockgate.artifacts({"packages": [pkg]})[0]
        if not lockgate.applies(art, t.python, t.platform):
            continue
        hashes = set()
        for a in [pkg.get("sdist") or {}, *(pkg.get("wheels") or [])]:
            for algo, value in (a.get("hashes") or {}).items():
                hashes.add(f"{algo}:{value}")
        out[art.name] = Pin(art.name, art.version, None, frozenset(hashes))
    return out


def verify_body(t: LockTarget, inputs: LockInputs, txt_text: str, pylock_text: str) -> list[str]:
    """Re-derive offline what the recorded inputs fix about the body; each problem as a sentence."""
    problems: list[str] = []
    try:
        txt_pins = read_requirements(split_body(txt_text))
    except InvalidRequirement as exc:
        return [f"a line is not a requirement: {exc}"]
    ours = _pylock_pins(split_body(pylock_text), t)
    names = [str(canonicalize_name(re.split(r"[=<>!~; ]", p, maxsplit=1)[0])) for p in _pin_lines(txt_text)]
    problems += [f"{n} is pinned more than once" for n in sorted({n for n in names if names.count(n) > 1})]
    for name in sorted(set(txt_pins) | set(ours)):
        a, b = txt_pins.get(name), ours.get(name)
        if a is None or b is None:
            where = "the requirements file" if a else "the pylock.toml"
            problems.append(f"{name} is only in {where}")
            continue
        if a.version != b.version:
            problems.append(f"{name} is {a.version} in the requirements file but {b.version} in the pylock.toml")
        if a.marker:
            problems.append(f"{name} carries a marker ({a.marker}); a lockfile for one target has none")
        if not a.hashes:
            problems.append(f"{name}=={a.version} has no hash")
        elif not b.hashes <= a.hashes:
            # uv lists every artifact's hash in the requirements file, only the target's in the pylock.
            problems.append(f"{name}=={a.version} lacks the hashes of the artifacts the pylock.toml installs")
    env = lockgate.platforms()[t.platform].marker_env(t.python)
    excluded = {str(canonicalize_name(e)) for e in inputs.excludes}
    for line in inputs.requirements:
        req = Requirement(line)
        name = str(canonicalize_name(req.name))
        if name in excluded or (req.marker and not req.marker.evaluate(env)):
            continue
        pin = txt_pins.get(name)
        if pin is None:
            problems.append(f"the requirement {line} is not pinned")
        elif not req.specifier.contains(pin.version, prereleases=True):
            problems.append(f"{name}=={pin.version} does not satisfy the requirement {line}")
    for line in inputs.constraints:
        req = Requirement(line)
        pin = txt_pins.get(str(canonicalize_name(req.name)))
        if (
            pin
            and (not req.marker or req.marker.evaluate(env))
            and not req.specifier.contains(pin.version, prereleases=True)
        ):
            problems.append(f"{pin.name}=={pin.version} breaks the constraint {line}")
    for name in sorted(excluded & set(txt_pins)):
        problems.append(f"{name} is pinned although the inputs exclude it")
    return problems


def check_one(path: Path, inputs_of: Callable[[LockTarget], LockInputs] | None = None) -> LockfileCheck:
    """Header, inputs, both bodies and the wheel gate of one lockfile, offline."""
    inputs_of = inputs_of or inputs_for
    head = read_header(path)
    try:
        t = LockTarget.parse(str(head["name"]))
        now = inputs_of(t)
    except (ValueError, KeyError) as exc:
        return LockfileCheck(path, False, f"{path.name}: cannot rebuild its inputs: {exc}")
    twin = paths(t, path.parent)[1]
    recorded = head.get("inputs")
    if not isinstance(recorded, dict) or _digest(recorded) != head.get("sha256"):
        return LockfileCheck(path, False, f"{path.name}: its header was edited (inputs do not hash to it)")
    if head.get("sha256") != now.digest():
        changed = sorted(k for k, v in now.to_dict().items() if _norm(recorded.get(k)) != _norm(v))
        return LockfileCheck(
            path,
            False,
            f"{path.name} is stale: its inputs changed ({', '.join(changed) or 'hash'}); "
            f"run `envdoctor-maint lock` to make it again",
        )
    if not twin.is_file() or read_header(twin).get("sha256") != now.digest():
        return LockfileCheck(path, False, f"{twin.name} is missing or was made from other inputs")
    txt_text, pylock_text = path.read_text(), twin.read_text()
    problems = []
    body_sha = body_digest(split_body(txt_text), split_body(pylock_text))
    if head.get("body_sha256") != body_sha or read_header(twin).get("body_sha256") != body_sha:
        problems.append("its body was edited by hand (it no longer hashes to the header's body-sha256)")
    problems += verify_body(t, now, txt_text, pylock_text)
    try:
        verdict = lockgate.gate(lockgate.read_pylock(twin), t.python, t.platform, now.source_builds)
    except Exception as exc:  # a pylock edited into invalid TOML or names
        problems.append(f"{twin.name} cannot be read: {exc}")
    else:
        if not verdict.ok:
            problems.append(f"wheel gate: {verdict.message()}")
        elif sorted(verdict.builds) != sorted(head.get("builds", [])):
            problems.append(f"its header names source builds {head.get('builds')} but the pins need {verdict.builds}")
    if problems:
        return LockfileCheck(path, False, f"{path.name}: " + "; ".join(problems))
    return LockfileCheck(path, True, f"{path.name} matches its inputs ({verdict.message()})")


def check(
    directory: Path | None = None,
    *,
    inputs_of: Callable[[LockTarget], LockInputs] = inputs_for,
) -> tuple[LockfileCheck, ...]:
    """Does every lockfile in `directory` still match its inputs, byte for byte of its body, and pass
    the wheel gate? And is every refused cell in matrix.json refused for today's inputs? No network."""
    directory = directory or lockfiles_dir()
    results = []
    for path in sorted(directory.glob("*.txt")):
        if "name" not in read_header(path):
            continue
        results.append(check_one(path, inputs_of))
    cells = read_matrix(directory)
    path = directory / MATRIX
    if path.is_file():
        # The committed directory: every cell of the matrix is either locked (its files exist) or left out.
        for t in committed_targets():
            entry = cells.get(t.name)
            if entry is None:
                results.append(LockfileCheck(path, False, f"{t.name} was never made; run `envdoctor-maint lock`"))
            elif entry.get("status") == "locked" and not paths(t, directory)[0].is_file():
                results.append(LockfileCheck(path, False, f"{t.name} is recorded as locked but its files are missing"))
    for name, entry in sorted(cells.items()):
        if entry.get("status") == "locked":
            continue
        try:
            now = inputs_of(LockTarget.parse(name)).digest()
        except (ValueError, KeyError) as exc:
            results.append(LockfileCheck(path, False, f"{name}: cannot rebuild its inputs: {exc}"))
            continue
        if entry.get("inputs_sha256") != now:
            results.append(
                LockfileCheck(
                    path, False, f"{name} is stale: it was left out for other inputs; run `envdoctor-maint lock`"
                )
            )
        else:
            results.append(LockfileCheck(path, True, f"{name} left out: {entry.get('reason')}"))
    return tuple(results)


def gate_for(lockfile: Path, python: str, os_name: str, machine: str) -> lockgate.GateResult | None:
    """The wheel gate of `lockfile` for an interpreter about to receive it (None: no pylock twin to judge,
    or a platform no lockfile targets). The header's named source builds are allowed."""
    platform = lockgate.platform_for(os_name, machine)
    twin = lockfile.with_name(f"pylock.{lockfile.stem}.toml")
    if platform is None or not twin.is_file():
        return None
    builds = read_header(lockfile).get("builds") or []
    return lockgate.gate(lockgate.read_pylock(twin), python, platform.key, [str(b).split("==")[0] for b in builds])


def left_out(strategy: str, set_name: str, python: str, accelerator: str, os_name: str, machine: str) -> str | None:
    """Why `envdoctor-maint lock` left this cell of the committed matrix out (None: it was not left out)."""
    platform = lockgate.platform_for(os_name, machine)
    if platform is None:
        return None
    cells = read_matrix()
    for acc in dict.fromkeys((accelerator, "cpu")):
        t = LockTarget(strategy, set_name, python, acc, platform.key)
        entry = cells.get(t.name)
        if entry and entry.get("status") != "locked":
            return f"no committed lockfile: {t.name} was left out ({entry.get('reason')}); uv resolves the set now"
    return None


def _digest(inputs: dict[str, object]) -> str:
    return hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()


def _norm(value: object) -> str:
    return json.dumps(value, sort_keys=True)


# --- the committed matrix -----------------------------------------------------------------------


def read_matrix(directory: Path | None = None) -> dict[str, dict[str, object]]:
    path = (directory or lockfiles_dir()) / MATRIX
    if not path.is_file():
        return {}
    return json.loads(path.read_text())["cells"]


def _entry(t: LockTarget, outcome: LockResult | str, inputs_sha: str) -> dict[str, object]:
    if isinstance(outcome, LockResult):
        return {"status": "locked", "builds": list(outcome.builds), "packages": outcome.packages}
    status = "refused" if outcome.startswith("wheel gate: ") else "unresolvable"
    return {"status": status, "reason": outcome.removeprefix("wheel gate: "), "inputs_sha256": inputs_sha}


def record(directory: Path, outcomes: Sequence[tuple[LockTarget, LockResult | str]]) -> None:
    """Write what became of each committed cell into matrix.json; a cell left out loses its old files."""
    cells = read_matrix(directory)
    for t, outcome in outcomes:
        cells[t.name] = _entry(t, outcome, inputs_for(t).digest())
        if not isinstance(outcome, LockResult):
            for p in paths(t, directory):
                p.unlink(missing_ok=True)
    order = {t.name: i for i, t in enumerate(committed_targets())}
    cells = {k: cells[k] for k in sorted(cells, key=lambda k: (order.get(k, len(order)), k)) if k in order}
    text = json.dumps({"schema": 1, "cells": cells}, indent=1, sort_keys=False) + "\n"
    (directory / MATRIX).write_text(text)


def reason(exc: Exception) -> str:
    """One line for matrix.json: the gate's sentence, or uv's last line."""
    if isinstance(exc, LockRefused):
        return "wheel gate: " + exc.gate.message()
    last = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    return "uv cannot resolve it: " + (last[-1] if last else str(exc))[:300]


def make_all(
    targets: Sequence[LockTarget] | None = None,
    directory: Path | None = None,
    *,
    uv: Uv | None = None,
    jobs: int = 1,
    progress: Callable[[LockTarget, LockResult | str], None] | None = None,
) -> tuple[tuple[LockTarget, LockResult | str], ...]:
    """Make every target (by default the whole committed matrix, recorded in matrix.json); a target
    that does not resolve or that the wheel gate refuses gives the reason instead of a result."""
    directory = directory or lockfiles_dir()
    chosen = list(targets or committed_targets())
    uv = uv or find_uv()

    def one(t: LockTarget) -> tuple[LockTarget, LockResult | str]:
        try:
            out: tuple[LockTarget, LockResult | str] = (t, make(t, directory, uv=uv))
        except (UvError, LockRefused) as exc:
            out = (t, reason(exc))
        if progress:
            progress(*out)
        return out

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        results = tuple(pool.map(one, chosen))
    committed = {t.name for t in committed_targets()}
    record(directory, [(t, o) for t, o in results if t.name in committed])
    return results


@dataclass(frozen=True)
class CellDrift:
    """One committed cell resolved afresh against today's registry, beside its committed pins.

    `changed` holds (name, committed version or None, fresh version or None) for each pin that differs;
    `error` says why the fresh resolve gave no pins (uv's last line, or the wheel gate's refusal)."""

    target: LockTarget
    changed: tuple[tuple[str, str | None, str | None], ...] = ()
    error: str | None = None

    @property
    def same(self) -> bool:
        return self.error is None and not self.changed


def _versions(path: Path) -> dict[str, str]:
    return {name: pin.version for name, pin in read_requirements(path.read_text()).items()}


def drift(
    targets: Sequence[LockTarget] | None = None,
    directory: Path | None = None,
    *,
    uv: Uv | None = None,
    jobs: int = 1,
    progress: Callable[[CellDrift], None] | None = None,
) -> tuple[CellDrift, ...]:
    """Resolve each committed cell again (the network is needed) and compare its pins with the committed
    ones. Nothing under `directory` changes. A drift means the registry now answers the same inputs
    differently (a file that reached it after the lock was made, a yanked release), not that a commit
    broke anything: `envdoctor-maint lock --check` is the offline gate, this is the report."""
    directory = directory or lockfiles_dir()
    chosen = [t for t in (targets or committed_targets()) if paths(t, directory)[0].is_file()]
    uv = uv or find_uv()

    def one(t: LockTarget) -> CellDrift:
        with tempfile.TemporaryDirectory(prefix="envdoctor-drift-") as tmp:
            try:
                fresh = _versions(make(t, Path(tmp), uv=uv).requirements_txt)
            except (UvError, LockRefused) as exc:
                out = CellDrift(t, error=reason(exc))
            else:
                committed = _versions(paths(t, directory)[0])
                changed = tuple(
                    (name, committed.get(name), fresh.get(name))
                    for name in sorted(committed.keys() | fresh.keys())
                    if committed.get(name) != fresh.get(name)
                )
                out = CellDrift(t, changed)
        if progress:
            progress(out)
        return out

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        return tuple(pool.map(one, chosen))


def copy_cell(t: LockTarget, source: Path, dest: Path) -> None:
    """Copy one cell's two lockfiles (tests edit copies, never the committed files)."""
    for p in paths(t, source):
        shutil.copy2(p, dest / p.name)
