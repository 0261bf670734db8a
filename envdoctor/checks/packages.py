"""Packages: the installed distributions, from the facts alone (nothing imported)."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from envdoctor.catalog import fill
from envdoctor.checks.base import CheckContext, CheckResult, ResultFactory, Status, check
from envdoctor.checks.needs import needed, requirements
from envdoctor.checks.texts import said
from envdoctor.datafiles import load, mmcv_ext_symbols
from envdoctor.manifest import SCOPES
from envdoctor.uv import parse_check
from envdoctor.versionwindows import window_for

PYPI_SIMPLE = "https://pypi.org/simple"


@check("packages.readable", "Packages", "every installed distribution's metadata can be read")
def readable(ctx: CheckContext, result: ResultFactory) -> Iterator[CheckResult]:
    if not ctx.facts.damaged:
        yield result(Status.OK, found=f"{len(ctx.facts.distributions)} distributions read")
        return
    for d in ctx.facts.damaged:
        yield result(
            Status.FAIL,
            title=f"{d.name} is damaged",
            found=d.describe(),
            expected=f"a readable {d.file}",
            **said("packages.readable", "damaged", name=d.name, folder=d.path or d.name),
        )


@check("packages.torch", "Packages", "torch is installed")
def torch_installed(ctx: CheckContext, result: ResultFactory) -> Iterator[CheckResult]:
    d = ctx.facts.dist("torch")
    broken = ctx.facts.damaged_dist("torch")
    if d is None and broken is not None:
        yield result(
            Status.FAIL,
            found=f"torch is installed but damaged ({broken.describe()})",
            expected="a readable torch installation",
            **said("packages.torch", "damaged"),
        )
    elif d is None:
        yield result(
            Status.FAIL,
            found="no torch",
            expected="torch (MuseTalk uses 2.0.1+cu118; any torch >=2.0 works with the right mmcv path)",
            **said("packages.torch", "missing"),
        )
    else:
        yield result(Status.OK, found=f"torch {d.version}")


@check("packages.torchvision", "Packages", "torchvision matches torch")
def torch_pair(ctx: CheckContext, result: ResultFactory) -> Iterator[CheckResult]:
    tv, t = ctx.facts.dist("torchvision"), ctx.facts.dist("torch")
    if tv is None or t is None:
        yield result(Status.SKIP, found="torch or torchvision not installed")
        return
    wanted = [r for r in requirements(tv.requires) if r.name == "torch" and not r.marker]
    bad = [r for r in wanted if t.parsed_version and not r.specifier.contains(t.parsed_version, prereleases=True)]
    # A local build tag (+cpu, +cu121) must agree too: a CUDA torchvision beside a CPU torch fails at import.
    local_t, local_tv = (
        (t.parsed_version.local if t.parsed_version else None),
        (tv.parsed_version.local if tv.parsed_version else None),
    )
    if bad or (local_t and local_tv and local_t != local_tv):
        yield result(
            Status.FAIL,
            found=f"torchvision {tv.version} with torch {t.version}",
            expected=f"torchvision built for torch {t.version} ({', '.join(str(r) for r in wanted) or 'same build'})",
            **_torchvision_fix(t.version, t.parsed_version),
            breaker=10,
        )
    else:
        yield result(Status.OK, found=f"torchvision {tv.version} with torch {t.version}")


def _torchvision_fix(torch: str, version: Version | None) -> dict[str, str]:
    """The install that puts back the torchvision made for this torch, from the index that serves this torch.
    `envdoctor fix` holds torch and torchvision where they are, so it is not the fix here."""
    series = load("torchvision.toml")["series"].get(f"{version.major}.{version.minor}") if version else None
    if version is None or series is None:
        return said("packages.torchvision", "mismatch-unknown", torch=torch)
    local = version.local
    index = str(load("lock.toml")["torch"]["index"]).format(accelerator=local) if local else PYPI_SIMPLE
    return said("packages.torchvision", "mismatch", torch=torch, series=series, index=index)


@check("packages.mmcv-provider", "Packages", "one provider of the mmcv package")
def mmcv_provider(ctx: CheckContext, result: ResultFactory) -> Iterator[CheckResult]:
    providers = ctx.mmcv_providers()
    names = [f"{d.name} {d.version}" for d in providers]
    if not providers:
        if ctx.real_mmpose:
            yield result(
                Status.FAIL,
                found="no mmcv package",
                expected="mmcv (with compiled ops) or mmcv-lite plus the _ext stub",
                **said("packages.mmcv-provider", "none"),
            )
        else:
            yield result(Status.OK, found="no mmcv package (not needed without mmpose)")
    elif len(providers) > 1:
        yield result(
            Status.FAIL,
            found=" and ".join(names),
            expected="exactly one provider of the mmcv package",
            **said("packages.mmcv-provider", "several"),
            breaker=16,
        )
    else:
        yield result(Status.OK, found=f"mmcv package from {names[0]}")


@check("packages.mmcv-ext", "Packages", "mmcv's compiled ops (mmcv._ext)")
def mmcv_ext(ctx: CheckContext, result: ResultFactory) -> Iterator[CheckResult]:
    mmcv = ctx.facts.mmcv
    ext = mmcv.ext
    state = ext.state
    provider = " and ".join(f"{d.name} {d.version}" for d in ctx.mmcv_providers()) or "an unknown source"
    needed = ctx.real_mmpose
    if state is None:
        yield result(Status.SKIP, found="the facts probe could not read mmcv's folder (see the probe problems)")
    elif state == "no-mmcv":
        yield result(Status.SKIP, found="no mmcv package")
    elif state == "compiled":
        notes = []
        if ext.matches_interpreter is False:
            notes.append(said("packages.mmcv-ext", "other-python", files=", ".join(ext.files))["why"])
        if ext.leftover_stub:
            notes.append(said("packages.mmcv-ext", "leftover-stub")["why"])
        yield result(
            Status.WARN if notes else Status.OK,
            found=f"compiled ({', '.join(ext.files)}) from {provider}",
            why="; ".join(notes),
        )
    elif state == "stub":
        info = ext.stub or {}
        stub_for, installed = info.get("mmcv"), mmcv.version
        found = (
            f"envdoctor stub for mmcv {stub_for or '?'}: {info.get('real', '?')} ops real, "
            f"{info.get('raising', '?')} raise when called"
        )
        if stub_for and installed and stub_for != installed:
            yield result(
                Status.WARN,
                found=found + f"; installed mmcv is {installed}",
                expected=f"a stub generated from mmcv {installed}",
                **said("packages.mmcv-ext", "stale-stub"),
            )
        else:
            yield result(
                Status.OK,
                found=found,
                **said("packages.mmcv-ext", "stub"),
            )
    elif state == "handwritten":
        path = Path(mmcv.package_dir or ".") / "_ext.py"
        missing = sorted(mmcv_ext_symbols() - _defined_names(path))
        if missing:
            yield result(
                Status.FAIL if needed else Status.WARN,
                found=f"a hand-written {path} lacking {len(missing)} of {len(mmcv_ext_symbols())} names "
                f"({', '.join(missing[:3])}...)",
                expected=f"all {len(mmcv_ext_symbols())} names mmcv.ops asks for",
                **said("packages.mmcv-ext", "handwritten-incomplete", first_missing=missing[0]),
                breaker=2,
            )
        else:
            yield result(
                Status.WARN,
                found=f"a hand-written {path} with every name",
                **said("packages.mmcv-ext", "handwritten"),
            )
    else:  # missing
        yield result(
            Status.FAIL if needed else Status.WARN,
            found=f"no mmcv._ext: the mmcv package comes from {provider}",
            expected="compiled mmcv._ext, or the generated stub",
            **said("packages.mmcv-ext", "missing", provider=provider),
            breaker=1,
        )


def _defined_names(path: Path) -> set[str]:
    try:
        tree = ast.parse(path.read_text(encoding="utf-8", errors="replace"))
    except (OSError, SyntaxError):
        return set()
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
    return names


@check("packages.mmcv-window", "Packages", "mmcv inside the mmdet and mmpose windows")
def mmcv_window(ctx: CheckContext, result: ResultFactory) -> Iterator[CheckResult]:
    version = ctx.facts.mmcv.version
    mmcv_v = ctx.facts.version("mmcv") or ctx.facts.version("mmcv-lite")
    if version:
        from packaging.version import InvalidVersion, Version

        try:
            mmcv_v = Version(version)
        except InvalidVersion:
            yield result(
                Status.FAIL,
                title="mmcv's version",
                found=f"mmcv/version.py says {version[:60]!r}, which is not a PEP 440 version",
                expected="a PEP 440 version such as 2.1.0",
                **said("packages.mmcv-window", "not-a-version"),
            )
            return
    checked = False
    for name in ("mmdet", "mmpose"):
        d = ctx.facts.dist(name)
        if d is None or d.parsed_version is None or mmcv_v is None:
            continue
        window = window_for(name, d.parsed_version)
        if window is None:
            continue
        checked = True
        found = f"{name} {d.version} with mmcv {mmcv_v}"
        if window.mmcv.contains(mmcv_v, prereleases=True):
            yield result(Status.OK, title=f"mmcv inside the {name} window", found=found, expected=f"mmcv {window.mmcv}")
        else:
            yield result(
                Status.FAIL,
                title=f"mmcv inside the {name} window",
                found=found,
                expected=f"mmcv {window.mmcv}",
                **said("packages.mmcv-window", "outside", name=name, mmcv=mmcv_v),
                breaker=4,
            )
    if not checked:
        yield result(Status.SKIP, found="no mmdet/mmpose with mmcv")


def _holds(req_text: str, ctx: CheckContext) -> bool:
    negate = req_text.startswith("!")
    req = Requirement(req_text.lstrip("!"))
    d = ctx.facts.dist(req.name)
    present = d is not None and (
        not req.specifier or (d.parsed_version is not None and req.specifier.contains(d.parsed_version, True))
    )
    return not present if negate else present


@check("packages.rules", "Packages", "known-bad combinations (envdoctor/data/rules.toml)")
def rules(ctx: CheckContext, result: ResultFactory) -> Iterator[CheckResult]:
    values = ctx.versions()
    fired = 0
    for rule in load("rules.toml")["rule"]:
        if all(_holds(w, ctx) for w in rule["when"]):
            fired += 1
            yield result(
                Status.FAIL,
                title=rule["title"],
                found=fill(rule["found"], values),
                expected=rule["expected"],
                **said("packages.rules", "fired", why=rule["why"], breaker=rule["breaker"], fix=rule["fix"]),
                breaker=rule["breaker"],
                details={"rule": rule["id"]},
            )
    if not fired:
        count = len(load("rules.toml")["rule"])
        yield result(Status.OK, found=f"none of {count} known-bad combinations")


@check("packages.consistent", "Packages", "declared requirements are met (uv pip check)")
def consistent(ctx: CheckContext, result: ResultFactory) -> Iterator[CheckResult]:
    """Each unmet requirement with its own fix, or why it does not matter for the scopes checked: `envdoctor fix`
    installs MuseTalk's set and leaves what else is installed as it is."""
    if ctx.uv_check is None:
        yield result(Status.SKIP, found="uv pip check was not run")
        return
    # chumpy is left out on purpose: MuseTalk never imports it and it does not build in isolation (breaker #9).
    lines = [line for line in ctx.uv_check if "chumpy" not in line]
    unmet, unparsed = parse_check(lines)
    needs = {scope: needed(ctx.facts, ctx.manifest, scope) for scope in SCOPES}
    for u in unmet:
        key = canonicalize_name(u.requirer)
        name = Requirement(u.requirement).name if _parses(u.requirement) else u.requirement
        why_needed = {s: by_dist[key] for s, by_dist in needs.items() if key in by_dist}
        details = {
            "requirer": u.requirer,
            "requirement": u.requirement,
            "installed": u.installed,
            "needed_by": {s: {"module": n.module, "at": n.at, "chain": list(n.chain)} for s, n in why_needed.items()},
        }
        title = f"{u.requirer} requires {u.requirement}"
        here = next((why_needed[s] for s in ctx.scopes if s in why_needed), None)
        if here is not None:
            yield result(
                Status.WARN,
                title=title,
                found=u.line,
                expected=f"{u.requirement} installed",
                **said(
                    "packages.consistent",
                    "unmet",
                    scope=here.scope,
                    module=here.module,
                    at=here.at,
                    chain=here.path,
                    requirer=u.requirer,
                    requirement=u.requirement,
                    name=name,
                ),
                details=details,
            )
            continue
        other = next(iter(why_needed.values()), None)
        scopes = ", ".join(ctx.scopes)
        if other is not None:
            found = said(
                "packages.consistent",
                "other-scope",
                scopes=scopes,
                scope=other.scope,
                requirer=u.requirer,
                module=other.module,
                at=other.at,
                chain=other.path,
            )["why"]
        else:
            found = said("packages.consistent", "no-scope", scopes=scopes, requirer=u.requirer)["why"]
        yield result(Status.SKIP, title=title, found=f"{u.line}: {found}", details=details)
    for line in unparsed:
        yield result(
            Status.WARN,
            title="unmet requirement",
            found=line,
            expected="every installed distribution's requirements met",
            **said("packages.consistent", "unparsed", python=ctx.target.python),
        )
    if not unmet and not unparsed:
        note = " (chumpy left out on purpose)" if len(lines) != len(ctx.uv_check) else ""
        yield result(Status.OK, found="all requirements met" + note)


def _parses(requirement: str) -> bool:
    try:
        Requirement(requirement)
    except InvalidRequirement:
        return False
    return True
