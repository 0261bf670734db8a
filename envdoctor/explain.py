"""One explainer for every failure text: a traceback, a pip/uv build log, a whole CI log, MuseTalk's output.

`explain_text(text, values)` finds each failure of the catalog (data/breakers.toml) in the text, cascades
dropped, each with its cause and fix, and puts the root failure first: the one that explains the exception
ending the last traceback (the failure that ended the run), else, without a traceback, the failure on the last
line that names an exception, else the first failure that is not a warning. An entry may be keyed on the
frame that raised (its path and source line), so that the same message from a user's own code or from a
package's own broken install is not taken for the environment one.
A warning entry (`warning = true`, a line that working runs print too) is never the root; when the last
traceback's exception is explained by no entry, the root is unknown and that exception line is quoted.

The text is first brought to one form (`normalise`): CRLF line ends, Windows backslash paths, typographic
quotes, CI timestamp and `>` quote prefixes, so a report matches however it was pasted. Everything runs in
time linear in the text: only the catalog's trigger literals are searched over the whole text (str.find), and
the symptom patterns run on bounded windows around the hits, never on the whole text.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, replace
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
MESSAGE_LINES = 3
"""Lines after an exception's first line that still belong to its message (a finding there explains it)."""
CHAIN_LINKS = 20
"""At most this many chained tracebacks ("During handling of the above exception") are followed back."""

ROOT, SECONDARY, WARNING = "root", "secondary", "warning"
"""A finding's role: the root failure, another failure (earlier or later, not the one that ended the run),
or a warning line that is never the cause."""


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
    role: str = SECONDARY
    """ROOT, SECONDARY or WARNING."""

    @property
    def environment(self) -> bool:
        return self.kind == ENVIRONMENT

    @property
    def warning(self) -> bool:
        return self.role == WARNING

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
    """The root failure first (when known), then the others in the order they happened; cascades of an
    earlier finding are dropped."""
    root_line: RootLine | None
    """Only when the root failure is unknown: the line envdoctor took for it."""
    characters: int

    @property
    def root(self) -> Finding | None:
        return self.findings[0] if self.findings and self.findings[0].role == ROOT else None

    @property
    def recognised(self) -> bool:
        """Whether the root failure is known (warnings and earlier failures alone are not an answer)."""
        return self.root is not None

    @property
    def warnings(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.warning)

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


_LINE_PREFIX = re.compile(
    r"\n(?:(?:\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:[.,]\d{1,9})?(?:Z|[+-]\d\d:?\d\d)?|>|#\d{1,4} \d{1,6}\.\d{1,3})"
    r"[ \t]?){1,8}"
)
"""What CI logs and quoting put before each line: a timestamp (GitHub Actions, Azure), a BuildKit step and
its seconds (`#12 7.830`, docker build logs), `>` quote markers (mail, Markdown, notebook outputs pasted as
quotes). Starts with a literal newline, so the search skips from line to line; every repeat is bounded."""


_QUOTES = str.maketrans({"\u2018": "'", "\u2019": "'"})
"""Typographic single quotes, as a message pasted through a word processor or a blog comes."""


def normalise(text: str) -> str:
    """The text in one form, with the same lines (line numbers stay those of the input): CRLF line ends as LF,
    Windows backslash paths with forward slashes (a doubled one, as repr() prints it, as one), typographic
    single quotes as plain ones, and line prefixes dropped."""
    if "\r" in text:
        text = text.replace("\r\n", "\n")
    if "\\" in text:
        text = text.replace("\\\\", "/").replace("\\", "/")
    if "\u2018" in text or "\u2019" in text:
        text = text.translate(_QUOTES)
    return _LINE_PREFIX.sub("\n", "\n" + text)[1:]


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
        if (b.raised_in or b.raised_by) and not _raised_as(text, start, b, groups.get("pkg")):
            return None
        return _Hit(b, start, lo + m.start(), _shown(line, m.start()), groups)
    return None


FRAME_LINES = 12
"""Lines above a failing line searched for the frame that raised it (source line, carets and blank lines
sit between, and importlib's own frames, which are passed over)."""
_FRAME = re.compile(r'^\s{0,80}File "(?P<path>[^"\n]{1,400})", line \d{1,7}')
_IMPORT_MACHINERY = re.compile(r"importlib/__init__\.py$|^<frozen importlib\._bootstrap")


def _raised_as(text: str, start: int, b: Breaker, pkg: str | None = None) -> bool:
    """Whether the frame that raised the failing line at `start` (the last `File "..."` line above it) is the
    one `b` asks for: its path matches `raised_in`, its source line `raised_by`, and (when the symptom names
    the package `pkg` that lacks a module) it is not a file of `pkg` itself: a package that cannot import its
    own module is a broken install, not two releases that do not fit."""
    hi = start - 1
    source = ""
    for _ in range(FRAME_LINES):
        if hi <= 0:
            break
        lo = text.rfind("\n", 0, hi) + 1
        line = text[lo : min(hi, lo + LINE_SPAN)]
        m = _FRAME.match(line)
        if m and _IMPORT_MACHINERY.search(m["path"]):
            source = ""  # importlib's own frame: the import was asked for by the frame above it
        elif m:
            return bool(
                (b.raised_in is None or b.raised_in.search(m["path"]))
                and (b.raised_by is None or b.raised_by.search(source))
                and not (pkg and f"/{pkg.split('.')[0]}/" in m["path"])
            )
        if line.strip() and not set(line.strip()) <= set("^~"):
            source = line
        hi = lo - 1
    return b.unframed


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
    characters = len(text)
    text = normalise(text)
    hits = _hits(text)
    # One line, one failure: where two entries match the same line, the earlier in the catalog wins.
    per_line: dict[int, _Hit] = {}
    for h in hits:
        if h.start not in per_line or h.breaker.order < per_line[h.start].breaker.order:
            per_line[h.start] = h
    kept = list(per_line.values())
    hidden = {k for h in kept for k in h.breaker.hides}
    kept = sorted((h for h in kept if h.breaker.key not in hidden), key=lambda h: (h.at, h.breaker.order))
    ending = _ending_exceptions(text)
    root, unknown = _root(text, kept, ending) if ending else (_root_without_traceback(text, kept), None)
    facts = dict(values or {})
    findings = []
    rest = [h for h in kept if h is not root and not (root and h.breaker.key == root.breaker.key)]
    for h in ([root] if root else []) + rest:
        vals = {**facts, **(_owner(text, h, owners) if owners else {}), **h.groups}
        role = ROOT if h is root else WARNING if h.breaker.warning else SECONDARY
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
                role=role,
            )
        )
    root_line = None
    if root is None:
        root_line = unknown or find_root_line(text)
    return Explained(tuple(findings), root_line, characters)


def _root(text: str, kept: list[_Hit], ending: list[tuple[int, int]]) -> tuple[_Hit | None, RootLine | None]:
    """(the hit taken for the root failure, or None; the quoted exception line when the root is unknown).

    With a traceback, the run ended with its exception: the root is the first failure of the chain of
    exceptions that ended it (a chained traceback's first exception is the original one) that an entry
    explains; a failure after that exception (a build's summary line) still counts, as the run went on.
    Without a traceback, the root is the first failure that is not a warning."""
    failures = [h for h in kept if not h.breaker.warning]
    if not ending:
        return (failures[0] if failures else None), None
    for lo, hi in ending:
        for h in failures:
            if lo <= h.start <= hi:
                return h, None
        # An entry's first hit may sit before the traceback (a summary line that repeats the exception, as
        # an import check's report does): the exception itself is matched again on its own.
        # (An entry keyed on the frame that raised is left to the whole text: the slice shows no frame.)
        again = [
            h
            for h in _hits(text[lo:hi])
            if not h.breaker.warning and h.breaker.raised_in is None and h.breaker.raised_by is None
        ]
        if again:
            h = min(again, key=lambda h: (h.at, h.breaker.order))
            return replace(h, start=h.start + lo, at=h.at + lo), None
    after = [h for h in failures if h.start > ending[-1][1]]
    if after:
        return after[0], None
    # The exception that ended the run is explained by no entry, but it is the cascade of a failure logged
    # just before its traceback: a framework caught an import error, logged it, and then failed on the name it
    # was loading (the name the ending exception quotes is in the log lines of that failure).
    header = text.rfind(_TRACEBACK, 0, ending[0][0])
    names = _QUOTED.findall(text, ending[-1][0], min(ending[-1][1], ending[-1][0] + LINE_SPAN))
    for h in reversed(failures):
        if not header - WINDOW_CHARS <= h.start < header:
            continue
        logged = text[text.rfind("\n", 0, max(0, h.start - 1)) + 1 : header]
        if any(n in logged for n in names):
            return h, None
    start, end = _line_bounds(text, ending[-1][0])
    line = text[start : min(end, start + LINE_SPAN)]
    return None, RootLine(_shown(line, 0), text.count("\n", 0, start) + 1)


def _root_without_traceback(text: str, kept: list[_Hit]) -> _Hit | None:
    """Without a traceback: the failure on the last line that names an exception (the error that ended the
    run, the lines above it being warnings or notices), else the first failure that is not a warning."""
    failures = [h for h in kept if not h.breaker.warning]
    if not failures:
        return None
    bare = _bare_exception(text)
    if bare is not None:
        lo, hi = bare
        for h in failures:
            if lo <= h.start <= hi:
                return h
    return failures[0]


BARE_TAIL = 65536
"""Characters at the end of a text searched for the exception line that ended the run."""
_BARE_EXCEPTION = re.compile(r"(?m)^[ \t]{0,8}(?:[A-Za-z_]\w{0,80}\.){0,6}[A-Za-z_]\w{0,80}(?:Error|Exception):")


def _bare_exception(text: str) -> tuple[int, int] | None:
    """(start, end of its line) of the last line, near the end of the text, that begins with an exception
    name and a colon (a traceback pasted without its header, or an error printed on its own)."""
    tail = max(0, len(text) - BARE_TAIL)
    last = None
    for m in _BARE_EXCEPTION.finditer(text, tail):
        last = m
    if last is None:
        return None
    return _line_bounds(text, last.start() + 1 if text[last.start()] == "\n" else last.start())


_QUOTED = re.compile(r"'([A-Za-z_][\w.]{2,200})'")
"""A name an exception message quotes (a module, an attribute, a class)."""


_CHAINED = ("During handling of the above exception", "The above exception was the direct cause")
_TRACEBACK = "Traceback (most recent call last)"


def _final_exception(text: str, tb: int) -> tuple[int, int] | None:
    """(start, end of its message) of the exception that ends the traceback whose header is at `tb`: the
    first line after the header, as indented as the header, that names an exception."""
    start, _ = _line_bounds(text, tb)
    indent = tb - start
    pos = text.find("\n", tb)
    for _ in range(2000):
        if pos == -1:
            return None
        lo = pos + 1
        nxt = text.find("\n", lo)
        hi = len(text) if nxt == -1 else nxt
        line = text[lo : min(hi, lo + LINE_SPAN)]
        body = line[indent:]
        if line[:indent].strip() == "" and body and not body[0].isspace():
            if _EXCEPTION_LINE.match(body):
                end = hi
                for _ in range(MESSAGE_LINES):
                    if end >= len(text) or text.startswith(_TRACEBACK, end + 1):
                        break
                    more = text.find("\n", end + 1)
                    end = len(text) if more == -1 else more
                return lo, end
            if body.startswith(_TRACEBACK):
                return None
        pos = nxt
    return None


def _ending_exceptions(text: str) -> list[tuple[int, int]]:
    """The exceptions of the chain that ended the run, first (the original one) to last: the last traceback's
    and those it was chained to. Empty when the text holds no complete traceback."""
    tb = text.rfind(_TRACEBACK)
    chain: list[tuple[int, int]] = []
    for _ in range(CHAIN_LINKS):
        if tb == -1:
            break
        exc = _final_exception(text, tb)
        if exc is None:
            break
        chain.append(exc)
        before = text.rfind(_TRACEBACK, 0, tb)
        if before == -1:
            break
        # chained only when the connector sits between the earlier exception and this traceback
        earlier = _final_exception(text, before)
        near = max(earlier[0], tb - WINDOW_CHARS) if earlier else tb
        if earlier is None or all(text.find(c, near, tb) == -1 for c in _CHAINED):
            break
        tb = before
    return chain[::-1]


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
