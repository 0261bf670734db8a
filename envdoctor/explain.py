"""One explainer for every failure text: a traceback, a pip/uv build log, a whole CI log, MuseTalk's output.

`explain_text(text, values)` finds each failure of the catalog (data/breakers.toml) in the text and
returns them in the order they happened, cascades dropped, each with its cause and fix. It runs in time
linear in the text: only the catalog's trigger literals are searched over the whole text (str.find),
and the symptom patterns run on bounded windows around the hits, never on the whole text.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass
from functools import cache
from pathlib import Path
from typing import Any

from envdoctor.catalog import ENVIRONMENT, Breaker, breakers, fill, fill_if_known, triggers
from envdoctor.facts import Facts

LINE_SPAN = 1024
"""Characters on each side of a hit that the symptom sees: a 1 MB line costs no more than a short one."""
WINDOW_BEFORE, WINDOW_AFTER, WINDOW_CHARS = 60, 15, 16384
"""Lines around a hit that `near` sees, and at most this many characters of them on each side."""
SHOWN = 300
"""Characters of a line shown in a finding."""


@dataclass(frozen=True)
class Finding:
    breaker: int
    key: str
    kind: str
    title: str
    cause: str
    fix: str
    here: str | None
    """The facts of the target that bear on it (with --python/--venv), or None."""
    line: str
    """The failing line (at most SHOWN characters around the symptom)."""
    line_number: int
    """1-based."""

    @property
    def environment(self) -> bool:
        return self.kind == ENVIRONMENT

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class RootLine:
    """The line taken for the root failure when no catalog entry matched."""

    text: str
    line_number: int


@dataclass(frozen=True)
class Explained:
    findings: tuple[Finding, ...]
    """In the order they happened; cascades of an earlier finding are dropped."""
    root_line: RootLine | None
    """Only when nothing was recognised: the line envdoctor took for the root failure."""
    characters: int

    @property
    def recognised(self) -> bool:
        return bool(self.findings)

    @property
    def root(self) -> Finding | None:
        return self.findings[0] if self.findings else None

    @property
    def environment(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.environment)


@dataclass(frozen=True)
class _Hit:
    breaker: Breaker
    start: int
    """Where the failing line starts."""
    at: int
    """Where the symptom matched."""
    line: str
    groups: dict[str, str]


@cache
def _anchor_table() -> dict[str, tuple[tuple[str, int, tuple[Breaker, ...]], ...]]:
    """For each trigger: (anchor, offset of the trigger inside it, entries that use the anchor)."""
    users: dict[str, list[Breaker]] = {}
    for b in breakers():
        for anchor in b.anchors:
            users.setdefault(anchor, []).append(b)
    table: dict[str, list[tuple[str, int, tuple[Breaker, ...]]]] = {t: [] for t in triggers()}
    for anchor, bs in users.items():
        inside = [t for t in triggers() if t in anchor]
        if not inside:
            raise ValueError(f"breakers.toml: anchor {anchor!r} contains none of the triggers")
        trigger = max(inside, key=len)  # the longest is the rarest: fewest hits to check
        table[trigger].append((anchor, anchor.index(trigger), tuple(bs)))
    return {t: tuple(rows) for t, rows in table.items() if rows}


def _anchor_hits(text: str) -> Iterator[tuple[int, tuple[Breaker, ...]]]:
    """(position of an anchor, entries that use it) for every anchor occurrence, in no particular order."""
    for trigger, rows in _anchor_table().items():
        i = text.find(trigger)
        while i != -1:
            for anchor, offset, bs in rows:
                if text.startswith(anchor, i - offset):
                    yield i - offset, bs
            i = text.find(trigger, i + 1)


def _line_bounds(text: str, pos: int) -> tuple[int, int]:
    start = text.rfind("\n", 0, pos) + 1
    end = text.find("\n", pos)
    return start, len(text) if end == -1 else end


def _window(text: str, start: int, end: int) -> str:
    lo = start
    for _ in range(WINDOW_BEFORE):
        if lo == 0 or start - lo > WINDOW_CHARS:
            break
        lo = text.rfind("\n", 0, lo - 1) + 1
    hi = end
    for _ in range(WINDOW_AFTER):
        if hi >= len(text) or hi - end > WINDOW_CHARS:
            break
        nxt = text.find("\n", hi + 1)
        hi = len(text) if nxt == -1 else nxt
    return text[max(lo, start - WINDOW_CHARS) : min(hi, end + WINDOW_CHARS)]


def _shown(line: str, at: int) -> str:
    line = line.strip("\r")
    if len(line) <= SHOWN:
        return line.strip()
    lo = max(0, min(at - SHOWN // 3, len(line) - SHOWN))
    return ("..." if lo else "") + line[lo : lo + SHOWN].strip() + ("..." if lo + SHOWN < len(line) else "")


def _confirm(text: str, pos: int, b: Breaker) -> _Hit | None:
    start, end = _line_bounds(text, pos)
    lo, hi = max(start, pos - LINE_SPAN), min(end, pos + LINE_SPAN)
    line = text[lo:hi]
    for pattern in b.symptoms:
        m = pattern.search(line)
        if m is None:
            continue
        if b.near and not any(p.search(_window(text, start, end)) for p in b.near):
            return None
        groups = {k: v for k, v in m.groupdict().items() if v is not None}
        return _Hit(b, start, lo + m.start(), _shown(line, m.start()), groups)
    return None


def _hits(text: str) -> list[_Hit]:
    """The first confirmed hit of each entry."""
    first: dict[str, _Hit] = {}
    for pos, bs in _anchor_hits(text):
        for b in bs:
            seen = first.get(b.key)
            if seen is not None and seen.at <= pos:
                continue
            hit = _confirm(text, pos, b)
            if hit is not None and (seen is None or hit.at < seen.at):
                first[b.key] = hit
    return list(first.values())


_OWNER_PATH = re.compile(r"(?:site|dist)-packages[/\\](\w{1,80})|File \"(\w{1,80})/_?\w{1,80}\.pyx\"")


def _owner(text: str, hit: _Hit, owners: Mapping[str, tuple[str, str]]) -> dict[str, str]:
    """{dist, dist_version} of the installed distribution whose file raised: the last package path before
    the failing line (in the lines above it) that a distribution of the target provides."""
    start, end = _line_bounds(text, hit.at)
    window = _window(text, start, end)
    tops = [a or b for a, b in _OWNER_PATH.findall(window)]
    for top in reversed(tops):
        if top in owners:
            name, version = owners[top]
            return {"dist": name, "dist_version": version}
    return {}


def explain_text(
    text: str, values: Mapping[str, str] | None = None, owners: Mapping[str, tuple[str, str]] | None = None
) -> Explained:
    """Every known failure in `text`, root first; `values` are facts of the target (versions by name),
    `owners` maps a top-level module to the (distribution, version) of the target that installs it."""
    hits = _hits(text)
    # One line, one failure: where two entries match the same line, the earlier in the catalog wins.
    per_line: dict[int, _Hit] = {}
    for h in hits:
        if h.start not in per_line or h.breaker.order < per_line[h.start].breaker.order:
            per_line[h.start] = h
    kept = list(per_line.values())
    hidden = {k for h in kept for k in h.breaker.hides}
    kept = sorted((h for h in kept if h.breaker.key not in hidden), key=lambda h: (h.at, h.breaker.order))
    facts = dict(values or {})
    findings = []
    for h in kept:
        vals = {**facts, **(_owner(text, h, owners) if owners else {}), **h.groups}
        findings.append(
            Finding(
                breaker=h.breaker.id,
                key=h.breaker.key,
                kind=h.breaker.kind,
                title=h.breaker.title,
                cause=fill(h.breaker.cause, vals),
                fix=fill(h.breaker.fix, vals),
                here=fill_if_known(h.breaker.here, vals),
                line=h.line,
                line_number=text.count("\n", 0, h.start) + 1,
            )
        )
    root_line = None if findings else find_root_line(text)
    return Explained(tuple(findings), root_line, len(text))


@dataclass(frozen=True)
class Explanation:
    breaker: int
    key: str
    title: str
    cause: str
    fix: str


def explain(text: str, values: Mapping[str, str]) -> Explanation | None:
    """The root failure in `text` as explain_text finds it, templates filled."""
    result = explain_text(text, values)
    root = result.root
    if root is None:
        return None
    cause = root.cause + (f" ({root.here})" if root.here else "")
    return Explanation(root.breaker, root.key, root.title, cause, root.fix)


def explain_file(path: Path, values: Mapping[str, str] | None = None) -> Explained:
    return explain_text(path.read_bytes().decode("utf-8", errors="replace"), values)


def owners(facts: Facts) -> dict[str, tuple[str, str]]:
    """Top-level module -> (distribution, version), from the target's facts."""
    out: dict[str, tuple[str, str]] = {}
    for d in facts.distributions.values():
        for top in d.top_level:
            out.setdefault(top, (d.name, d.version))
    return out


# --- the root failure when nothing is recognised --------------------------------------------------------------

_EXCEPTION_LINE = re.compile(r"[A-Za-z_][\w.]{0,200}(?:Error|Exception|Exit|Interrupt|Warning|Failure)\b:?")
_MARKERS = ("ERROR:", "error:", "Error:", "FAILED", "fatal:", "Fatal error", "Exception:")


def find_root_line(text: str) -> RootLine | None:
    """The first real error: the exception that ended the first traceback, else the first error line."""
    tb = text.find("Traceback (most recent call last)")
    if tb != -1:
        pos = tb
        for _ in range(2000):
            nxt = text.find("\n", pos)
            if nxt == -1:
                break
            start, end = nxt + 1, text.find("\n", nxt + 1)
            end = len(text) if end == -1 else end
            line = text[start : min(end, start + LINE_SPAN)]
            stripped = _strip_prefix(line)
            if stripped and not stripped[0].isspace() and _EXCEPTION_LINE.match(stripped):
                return RootLine(_shown(stripped, 0), text.count("\n", 0, start) + 1)
            pos = start
    found = [i for i in (text.find(m) for m in _MARKERS) if i != -1]
    if found:
        at = min(found)
        start, end = _line_bounds(text, at)
        return RootLine(_shown(text[start:end], at - start), text.count("\n", 0, start) + 1)
    stripped = text.rstrip()
    if not stripped:
        return None
    start = stripped.rfind("\n") + 1
    return RootLine(_shown(stripped[start:], 0), stripped.count("\n") + 1)


_PREFIX = re.compile(r"(?:\[[^\]\n]{1,40}\] ?|\d{4}-\d\d-\d\dT[\d:.]{1,20}Z ?)")


def _strip_prefix(line: str) -> str:
    """CI logs put a timestamp or a rank before each line: look past it."""
    m = _PREFIX.match(line)
    return line[m.end() :] if m else line


# --- facts of a target ---------------------------------------------------------------------------------------


def versions(facts: Facts) -> dict[str, str]:
    """Template values from the target's facts: every distribution's version by name, and python."""
    values: dict[str, str] = {}
    for d in facts.distributions.values():
        values[d.key] = d.version
        values[d.key.replace("-", "_")] = d.version
    providers = [f"{d.name} {d.version}" for d in facts.mmcv_providers()]
    if providers:
        values["mmcv_provider"] = " and ".join(providers)
    if facts.python.version:
        values["python"] = facts.python.version
    return values
