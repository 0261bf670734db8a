"""Offline checks of the committed lockfiles against today's inputs, and the gate a target meets."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from envdoctor import lockgate
from envdoctor.lock.cells import LockTarget, committed_targets, paths
from envdoctor.lock.files import body_digest, pin_lines, pylock_pins, read_header, read_requirements, split_body
from envdoctor.lock.inputs import LockInputs, digest_of, inputs_for, normalised
from envdoctor.lock.outcomes import MATRIX, read_matrix
from envdoctor.resources import lockfiles_dir


@dataclass(frozen=True)
class LockfileCheck:
    """One lockfile (or left-out cell) of `envdoctor-maint lock --check`: does it still match its inputs?"""

    path: Path
    ok: bool
    message: str


def verify_body(t: LockTarget, inputs: LockInputs, txt_text: str, pylock_text: str) -> list[str]:
    """Re-derive offline what the recorded inputs fix about the body; each problem as a sentence."""
    problems: list[str] = []
    try:
        txt_pins = read_requirements(split_body(txt_text))
    except InvalidRequirement as exc:
        return [f"a line is not a requirement: {exc}"]
    ours = pylock_pins(split_body(pylock_text), t)
    names = [str(canonicalize_name(re.split(r"[=<>!~; ]", p, maxsplit=1)[0])) for p in pin_lines(txt_text)]
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
        t = LockTarget.parse(str(head.name))
        now = inputs_of(t)
    except (ValueError, KeyError) as exc:
        return LockfileCheck(path, False, f"{path.name}: cannot rebuild its inputs: {exc}")
    twin = paths(t, path.parent)[1]
    recorded = head.inputs
    if recorded is None or digest_of(recorded) != head.sha256:
        return LockfileCheck(path, False, f"{path.name}: its header was edited (inputs do not hash to it)")
    if head.sha256 != now.digest():
        changed = sorted(k for k, v in now.to_dict().items() if normalised(recorded.get(k)) != normalised(v))
        return LockfileCheck(
            path,
            False,
            f"{path.name} is stale: its inputs changed ({', '.join(changed) or 'hash'}); "
            f"run `envdoctor-maint lock` to make it again",
        )
    if not twin.is_file() or read_header(twin).sha256 != now.digest():
        return LockfileCheck(path, False, f"{twin.name} is missing or was made from other inputs")
    txt_text, pylock_text = path.read_text(), twin.read_text()
    problems = []
    body_sha = body_digest(split_body(txt_text), split_body(pylock_text))
    if head.body_sha256 != body_sha or read_header(twin).body_sha256 != body_sha:
        problems.append("its body was edited by hand (it no longer hashes to the header's body-sha256)")
    problems += verify_body(t, now, txt_text, pylock_text)
    try:
        verdict = lockgate.gate(lockgate.read_pylock(twin), t.python, t.platform, now.source_builds)
    except Exception as exc:  # a pylock edited into invalid TOML or names
        problems.append(f"{twin.name} cannot be read: {exc}")
    else:
        if not verdict.ok:
            problems.append(f"wheel gate: {verdict.message()}")
        elif sorted(verdict.builds) != sorted(head.builds):
            problems.append(f"its header names source builds {list(head.builds)} but the pins need {verdict.builds}")
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
        if read_header(path).name is None:
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
    builds = read_header(lockfile).builds
    return lockgate.gate(lockgate.read_pylock(twin), python, platform.key, [b.split("==")[0] for b in builds])


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
