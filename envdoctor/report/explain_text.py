"""`envdoctor explain` as text: the root failure first, then earlier or later failures and warnings, each with
what failed, why, and the fix."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape

from envdoctor.explain import ROOT, WARNING, Explained, Finding

_LABEL = {ROOT: "root failure", WARNING: "warning, not the cause"}


def render(result: Explained, source: str, out: Console) -> None:
    if result.root is None:
        if result.findings:
            out.print(f"envdoctor explain: the root failure in {escape(source)} is unknown to envdoctor.")
        else:
            out.print(f"envdoctor explain: nothing in {escape(source)} matches a failure envdoctor knows.")
        if result.root_line:
            out.print(f"The line taken for the root failure (line {result.root_line.line_number}):")
            out.print(f"  {escape(result.root_line.text)}")
        else:
            out.print("The text is empty.")
        out.print("If it is an environment problem, `envdoctor check` probes the environment itself.")
        if result.findings:
            out.print("What envdoctor does know in it, none of it the failure that ended the run:")
    else:
        n = len(result.findings)
        out.print(f"envdoctor explain: {n} finding{'s' if n > 1 else ''} in {escape(source)}, the root failure first.")
    for i, f in enumerate(result.findings, 1):
        _finding(out, i, f, result.root)


def _finding(out: Console, i: int, f: Finding, root: Finding | None) -> None:
    label = _LABEL.get(f.role) or (
        "earlier failure, secondary" if root is not None and f.line_number < root.line_number else "secondary"
    )
    tag = "" if f.environment else "  [bold](not an environment problem)[/bold]"
    out.print()
    out.print(f"{i}. [bold]{escape(f.title)}[/bold]{tag}  [dim]({label}; {f.key}, line {f.line_number})[/dim]")
    out.print(f"   {'printed' if f.warning else 'failed'}: {escape(f.line)}")
    out.print(f"   cause:  {escape(f.cause)}")
    if f.here:
        out.print(f"   here:   {escape(f.here)}")
    out.print(f"   fix:    {escape(f.fix)}")
