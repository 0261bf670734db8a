"""`envdoctor models verify|fetch` for people: one line per file, the failures' sentences once each."""

from __future__ import annotations

from collections.abc import Sequence

from envdoctor.models.fetch import AlreadyThere, Failed, FetchReport, Kept, Placed, Refused
from envdoctor.models.verify import FileVerdict, Missing, SizeOnly, Verified


def _bytes(n: int) -> str:
    return f"{n:,} bytes"


def verdict_line(v: FileVerdict) -> str:
    o = v.outcome
    where = v.alternative.path if v.alternative else v.file.title
    if isinstance(o, Verified):
        return f"ok       {where}  sha256 {o.sha256[:12]}…{' (remembered)' if o.cached else ''}"
    if isinstance(o, SizeOnly):
        return f"size ok  {where}  {_bytes(o.size)}: {o.reason}"
    if isinstance(o, Missing):
        return f"missing  {where}  ({v.file.why})"
    found = f"; sha256 {o.found_sha256}" if o.found_sha256 else ""
    expected = f", expected {v.file.sha256}" if v.file.sha256 and o.found_sha256 else ""
    return f"WRONG    {where}  {o.detail}{found}{expected}"


def verify(verdicts: Sequence[FileVerdict]) -> str:
    lines = [verdict_line(v) for v in verdicts]
    bad = [v for v in verdicts if not v.ok]
    if bad:
        lines.append(
            f"{len(bad)} of {len(verdicts)} files missing or wrong: `envdoctor models fetch --repair` fetches them."
        )
    else:
        lines.append(f"all {len(verdicts)} files in place.")
    return "\n".join(lines)


def fetch(report: FetchReport) -> str:
    lines = list(report.notes)
    reasons: list[str] = []
    for r in report.results:
        o = r.outcome
        if isinstance(o, AlreadyThere):
            lines.append(verdict_line(o.verdict))
        elif isinstance(o, Placed):
            lines.append(f"placed   {r.file.title}  sha256 {o.sha256[:12]}… ({o.how} from {o.source})")
            lines += [f"         (first tried {reason})" for reason in o.fell_back]
        elif isinstance(o, Refused):
            lines.append(
                f"REFUSED  {r.file.title}  {o.source} sent {o.what}: sha256 {o.found_sha256}, "
                f"expected {o.expected_sha256}; nothing placed"
            )
        elif isinstance(o, Kept):
            lines.append(verdict_line(o.verdict) + "  (left as it is: --repair replaces it)")
        elif isinstance(o, Failed):
            lines.append(f"FAILED   {r.file.title}")
            reasons.extend(x for x in o.reasons if x not in reasons)
    lines.extend(f"{reason}." for reason in reasons)
    failed = [r for r in report.results if not r.ok]
    if failed:
        lines.append(f"{len(failed)} of {len(report.results)} files not in place.")
    else:
        lines.append(f"all {len(report.results)} files in place ({_bytes(report.transferred)} transferred).")
    return "\n".join(lines)
