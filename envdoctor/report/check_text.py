"""`envdoctor check` for people: categories, ✓ ! ✗ per check, found vs expected, the why and the fix."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape

from envdoctor.check import CheckReport
from envdoctor.checks import CATEGORIES, CheckSpec, Status, worst

MARK = {Status.OK: "[green]✓[/]", Status.WARN: "[yellow]![/]", Status.FAIL: "[red]✗[/]", Status.SKIP: "[dim]-[/]"}


def render(report: CheckReport, console: Console, *, verbose: bool = False) -> None:
    t = report.target
    console.print(f"[bold]Target[/]  {escape(str(t.python))} (Python {t.version})")
    console.print(f"        why: {escape(t.reason)}")
    console.print(
        f"[bold]Imports[/] {escape(report.manifest.name)} ({escape(report.manifest.source)}), "
        f"scope {', '.join(report.scopes)}"
    )
    for cat in CATEGORIES:
        rows = [r for r in report.results if r.category == cat]
        if not rows:
            continue
        console.print()
        console.print(f"{MARK[worst(rows)]} [bold]{cat}[/]")
        quiet_ok = 0
        for r in rows:
            if r.status in (Status.OK, Status.SKIP) and not verbose and cat == "Imports" and len(rows) > 8:
                quiet_ok += 1
                continue
            line = f"    {MARK[r.status]} {escape(r.title)}"
            if r.found:
                line += f": {escape(r.found)}"
            console.print(line, highlight=False)
            if r.status in (Status.FAIL, Status.WARN):
                if r.expected:
                    console.print(f"        expected: {escape(r.expected)}", highlight=False)
                if r.why:
                    console.print(f"        why: {escape(r.why)}", highlight=False)
                if r.fix:
                    console.print(f"        fix: [bold]{escape(r.fix)}[/]", highlight=False)
        if quiet_ok:
            console.print(f"    [green]✓[/] {quiet_ok} more imported or not needed (--verbose lists them)")
    for note in report.notes:
        console.print(f"[yellow]note:[/] {escape(note)}")
    console.print()
    colour = "red" if report.failures else ("yellow" if report.warnings else "green")
    console.print(f"[bold {colour}]{report.summary()}[/] ({report.seconds:.1f} s)")
    if report.failures:
        console.print("Run [bold]envdoctor fix[/] to repair what it can, or follow each fix above.")


def render_list(specs: list[CheckSpec], console: Console) -> None:
    for cat in CATEGORIES:
        for s in (s for s in specs if s.category == cat):
            console.print(f"{s.id:<26} {cat:<9} {escape(s.title)}", highlight=False)
