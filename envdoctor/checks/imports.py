"""Imports: every module MuseTalk imports, really imported inside the target."""

from __future__ import annotations

from collections.abc import Iterator
from functools import cache

from envdoctor.checks.base import CheckContext, CheckResult, ResultFactory, Status, check
from envdoctor.checks.texts import said
from envdoctor.distnames import install_name
from envdoctor.explain import explain
from envdoctor.facts import Distribution, Facts, ImportResult
from envdoctor.manifest import Entry, Reach, builtin


def _owner(facts: Facts, r: ImportResult) -> Distribution | None:
    """The distribution whose code raised: the innermost traceback frame inside site-packages."""
    roots = [p.rstrip("/") + "/" for p in facts.python.site_packages]
    for f in reversed(r.files):
        for root in roots:
            if f.startswith(root):
                top = f[len(root) :].split("/")[0].split(".")[0]
                providers = facts.providers(top)
                if providers:
                    return providers[0]
    if r.missing_module:
        providers = facts.providers(r.missing_module)
        if providers:
            return providers[0]
    return None


def _status_text(r: ImportResult) -> str:
    if r.status in ("crash", "exit", "timeout"):
        return f"{r.status}: {r.message}"
    head = f"{r.error_type}: {r.message}" if r.error_type else (r.message or r.status)
    return head.splitlines()[0][:300]


def _where(entry: Entry, reach: Reach | None) -> dict[str, object]:
    """What a scanned row says of the import: which entry point reaches it, how, and each file:line."""
    if not entry.imported_at:
        return {}
    out: dict[str, object] = {"imported_at": list(entry.imported_at)}
    if reach is not None:
        out.update(kind=reach.kind, scope=reach.scope, entry_point=reach.entry_point, at=reach.at)
    return out


def _at(entry: Entry, reach: Reach | None) -> str:
    if reach is not None:
        return reach.at
    if entry.imported_at:
        more = len(entry.imported_at) - 1
        return entry.imported_at[0] + (f" and {more} more" if more else "")
    return "MuseTalk's sources"


@cache
def _fix_set() -> frozenset[str]:
    """`envdoctor fix` installs MuseTalk's inference set: the top-level modules the built-in list has for inference."""
    return frozenset(e.top for e in builtin().entries if e.probed and e.scope == "inference")


def _fix_installs(entry: Entry, scope: str) -> bool:
    return scope == "inference" and entry.top in _fix_set()


def _not_probed(entry: Entry) -> str:
    if entry.reached:
        scopes = ", ".join(r.scope for r in entry.reached)
        flags = " ".join(f"--scope {r.scope}" for r in entry.reached)
        return f"not probed: reached only from the {scopes} entry points ({flags} probes it), at {entry.reached[0].at}"
    return f"not probed: no entry point of the checkout reaches it (imported at {_at(entry, None)})"


@check("imports", "Imports", "every module MuseTalk imports", needs_imports=True)
def imports(ctx: CheckContext, result: ResultFactory) -> Iterator[CheckResult]:
    values = ctx.versions()
    first_seen: dict[str, str] = {}
    for entry in ctx.manifest.entries:
        if not entry.probed:
            continue  # vendored: see imports.vendored
        cid = f"imports.{entry.name}"
        if not ctx.manifest.in_scope(entry, ctx.scopes):
            if ctx.manifest.scanned and "." not in entry.name:
                # Listed, so that a scan says what it left out and why, and never imported.
                yield result(
                    Status.SKIP,
                    title=f"import {entry.name}",
                    found=_not_probed(entry),
                    details={"id": cid, **_where(entry, None), "scopes": [r.scope for r in entry.reached]},
                )
            continue
        r = ctx.facts.import_result(entry.name)
        if r is None:
            continue
        reach = entry.reach_for(ctx.scopes) if ctx.manifest.scanned else None
        where = _where(entry, reach)
        providers = list(ctx.facts.providers(entry.name))
        source = ", ".join(f"{d.name} {d.version}" for d in providers) or "?"
        if r.ok:
            yield result(
                Status.OK,
                title=f"import {entry.name}",
                found=f"{source}, {r.seconds or 0:.2f} s",
                seconds=r.seconds,
                details={"id": cid, **where},
            )
            continue
        if entry.via == "openmmlab" and ctx.port_provides_mmpose and r.status == "missing":
            yield result(
                Status.SKIP,
                title=f"import {entry.name}",
                found="not installed; not needed: mmpose is envdoctor's mmpose-free port",
                details={"id": cid, **where},
            )
            continue
        # The module itself is not there (not one of its own imports): the text report groups these.
        absent = bool(r.status == "missing" and r.missing_module and r.missing_module.split(".")[0] == entry.top)
        kind = reach.kind if reach else ("optional" if entry.optional else "required")
        if absent and kind == "optional" and reach is not None:
            yield result(
                Status.SKIP,
                title=f"import {entry.name}",
                found=f"not installed; optional: {reach.at} goes on without it",
                details={"id": cid, "status": r.status, "absent": True, **where},
            )
            continue
        owner = _owner(ctx.facts, r)
        values = {
            **values,
            "module": entry.name,
            "dist": owner.name if owner else "?",
            "dist_version": owner.version if owner else "?",
        }
        exp = explain(r.symptom, values)
        scope = reach.scope if reach else entry.scope
        required = scope == "inference" and kind == "required"
        status = Status.FAIL if required else Status.WARN
        texts: dict[str, str]
        breaker = None
        # The OpenMMLab packages only work as a matched set; one `pip install` at a time is the trap.
        as_set = entry.via == "openmmlab" or entry.top == "mmpose"
        dist = install_name(entry.name, requirements=ctx.manifest.requirements, installed=[d.name for d in providers])
        by_fix = _fix_installs(entry, scope)
        # What one `envdoctor fix` installs: the text report may give these one row with that one fix.
        installable = absent and (as_set or (dist is not None and by_fix))
        if exp:
            # The cause and fix are the breaker's own (breakers.toml); the data only frames them.
            same = first_seen.get(exp.key)
            if same:
                texts = said("imports", "explained-again", cause=exp.cause, same=same, breaker=exp.breaker, fix=exp.fix)
            else:
                texts = said("imports", "explained", cause=exp.cause, breaker=exp.breaker, fix=exp.fix)
            breaker = exp.breaker
            first_seen.setdefault(exp.key, entry.name)
        elif absent:
            if kind == "lazy":
                texts = said("imports", "not-installed-lazy", module=entry.name, at=_at(entry, reach))
            elif entry.why:
                texts = said("imports", "not-installed-for", module=entry.name, used_for=entry.why)
            else:
                texts = said("imports", "not-installed", module=entry.name)
            if as_set:
                texts.update(said("imports", "install-the-set"))
            elif dist and by_fix:
                texts.update(said("imports", "install-one", dist=dist))
            elif dist:
                texts.update(said("imports", "install-by-hand", dist=dist))
            else:
                texts.update(said("imports", "no-distribution", module=entry.top, at=_at(entry, reach)))
        elif r.status == "missing" and r.missing_module:
            missing = r.missing_module.split(".")[0]
            installed = [d.name for d in ctx.facts.providers(missing)]
            dist = install_name(missing, requirements=ctx.manifest.requirements, installed=installed)
            if dist:
                texts = said("imports", "needs-missing", module=entry.name, missing=missing, dist=dist)
            else:
                texts = said("imports", "needs-missing-unknown", module=entry.name, missing=missing)
        else:
            if r.status == "crash":
                texts = said("imports", "crash")
            elif r.status == "timeout":
                texts = said("imports", "timeout")
            elif r.status == "exit":
                texts = said("imports", "exit")
            else:
                texts = said("imports", "unknown-error")
            # `envdoctor fix` installs the set and leaves a distribution that is already at its pin as it is, so
            # it does not repair one whose files are broken: the row names the reinstall itself.
            culprit = owner or (providers[0] if providers else None)
            if culprit is not None:
                texts.update(said("imports", "reinstall", dist=culprit.name, version=culprit.version))
            else:
                texts.update(said("imports", "reinstall-unknown", module=entry.name))
        yield result(
            status,
            title=f"import {entry.name}",
            found=_status_text(r) + (f"  [raised in {owner.name} {owner.version}]" if owner else ""),
            expected=f"imports ({', '.join(entry.dists) or 'installed'})",
            **texts,
            breaker=breaker,
            seconds=r.seconds,
            details={
                "id": cid,
                "status": r.status,
                "absent": absent,
                "installable": installable,
                "traceback": r.traceback,
                "owner": owner.name if owner else None,
                "scope": scope,
                **where,
            },
        )


@check("imports.vendored", "Imports", "vendored modules are not shadowed")
def vendored(ctx: CheckContext, result: ResultFactory) -> Iterator[CheckResult]:
    any_vendored = False
    for entry in ctx.manifest.entries:
        if entry.probed or not ctx.manifest.in_scope(entry, ctx.scopes):
            continue
        any_vendored = True
        shadows = ctx.facts.providers(entry.name)
        if shadows:
            names = ", ".join(f"{d.name} {d.version}" for d in shadows)
            yield result(
                Status.FAIL,
                title=f"vendored {entry.name}",
                found=f"an installed `{entry.name}` from {names} shadows the vendored copy in {entry.vendored}",
                expected=f"no installed module named {entry.name}",
                **said("imports.vendored", "shadowed", module=entry.name, dist=shadows[0].name),
                breaker=17,
            )
        else:
            where = f" ({entry.vendored})" if entry.vendored else ""
            yield result(Status.OK, title=f"vendored {entry.name}", found=f"vendored in the checkout{where}")
    if not any_vendored:
        yield result(Status.SKIP, found="no vendored modules")


@check("imports.app-local", "Imports", "the checkout does not shadow a dependency")
def app_local(ctx: CheckContext, result: ResultFactory) -> Iterator[CheckResult]:
    """A top-level module in the checkout wins over the installed one when MuseTalk runs from the
    checkout root. envdoctor never imports the checkout to find out: the scan lists its modules."""
    if ctx.manifest.source == "built-in":
        yield result(Status.SKIP, found="no checkout scanned (--app DIR)")
        return
    dependencies = {e.top for e in builtin().entries if e.probed}
    clean = True
    for name, path in ctx.manifest.app_local:
        providers = ctx.facts.providers(name)
        if name not in dependencies and not providers:
            continue
        clean = False
        installed = ", ".join(f"{d.name} {d.version}" for d in providers) or "not installed here"
        yield result(
            Status.FAIL if name in dependencies else Status.WARN,
            title=f"the checkout's {path} shadows {name}",
            found=f"{path} in the checkout is a module named {name} (installed {name}: {installed})",
            expected=f"no module named {name} in the checkout: it comes from site-packages",
            **said("imports.app-local", "shadows", module=name, path=path),
            breaker=17,
        )
    if clean:
        yield result(Status.OK, found=f"{len(ctx.manifest.app_local)} checkout modules, none named like a dependency")


@check("imports.scan", "Imports", "every Python file of the checkout was scanned")
def scan(ctx: CheckContext, result: ResultFactory) -> Iterator[CheckResult]:
    if ctx.manifest.source == "built-in":
        yield result(Status.SKIP, found="no checkout scanned (--app DIR)")
        return
    for rel, why in ctx.manifest.skipped:
        yield result(
            Status.WARN,
            title=f"skipped {rel}",
            found=f"{rel}: {why}",
            expected="a readable Python source file",
            **said("imports.scan", "skipped", path=rel),
        )
    for rel in ctx.manifest.line_scanned:
        yield result(
            Status.WARN,
            title=f"large file {rel}",
            found=f"{rel} is too large for a full parse: its import lines were read one by one",
            expected="a source file of ordinary size",
            **said("imports.scan", "line-scanned", path=rel),
        )
    if not ctx.manifest.skipped and not ctx.manifest.line_scanned:
        yield result(Status.OK, found="every Python file parsed")
