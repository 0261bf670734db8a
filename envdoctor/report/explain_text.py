"""`envdoctor explain` as text: each failure, what failed, why, and the fix."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape

from envdoctor.explain import Explained


def render(result: Explained, source: str, out: Console) -> None:
    if not result.recognised:
        out.print(f"envdoctor explain: nothing in {escape(source)} matches a failure envdoctor knows.")
        if result.root_line:
            out.print(f"The line taken for the root failure (line {result.root_line.line_number}):")
            out.print(f"  {escape(result.root_line.text)}")
        else:
            out.print("The text is empty.")
        out.print("If it is an environment problem, `envdoctor check` probes the environment itself.")
        return
    n = len(result.findings)
    out.print(f"envdoctor explain: {n} failure{'s' if n > 1 else ''} in {escape(source)}, the root failure first.")
    for i, f in enumerate(result.findings, 1):
        tag = "" if f.environment else "  [bold](not an environment problem)[/bold]"
        out.print()
        out.print(f"{i}. [bold]{escape(f.title)}[/bold]{tag}  [dim]({f.key}, line {f.line_number})[/dim]")
        out.print(f"   failed: {escape(f.line)}")
        out.print(f"   cause:  {escape(f.cause)}")
        if f.here:
            out.print(f"   here:   {escape(f.here)}")
        out.print(f"   fix:    {escape(f.fix)}")
