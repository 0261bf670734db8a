"""`envdoctor check` for people: categories, ✓ ! ✗ per check, found vs expected, the why and the fix."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape

from envdoctor.checkrun import CheckReport
from envdoctor.checks import CATEGORIES, CheckResult, CheckSpec, Status, worst

GROUP_ABSENT = 4
"""From this many modules that are not installed, the text report gives them one row."""

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
        # Only modules one `envdoctor fix` installs share the row: one with no known distribution, or one only
        # training or the app needs, keeps its own.
        absent = [] if verbose or cat != "Imports" else [r for r in rows if _groupable(r)]
        grouping = len(absent) >= GROUP_ABSENT
        for r in rows:
            if r.status in (Status.OK, Status.SKIP) and not verbose and cat == "Imports" and len(rows) > 8:
                quiet_ok += 1
                continue
            if grouping and _groupable(r):
                if r is absent[0]:  # the one row stands where the first of them would
                    _absent_row(absent, console)
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
            if r.details.get("imported_at") and (verbose or r.status in (Status.FAIL, Status.WARN)):
                console.print(f"        imported: {escape(_imported(r))}", highlight=False)
        if quiet_ok:
            console.print(f"    [green]✓[/] {quiet_ok} more imported or not needed (--verbose lists them)")
    for note in report.notes:
        console.print(f"[yellow]note:[/] {escape(note)}")
    console.print()
    colour = "red" if report.failures else ("yellow" if report.warnings else "green")
    console.print(f"[bold {colour}]{report.summary()}[/] ({report.seconds:.1f} s)")
    if report.failures:
        console.print("Run [bold]envdoctor fix[/] to repair what it can, or follow each fix above.")


def _groupable(r: CheckResult) -> bool:
    """`envdoctor fix` installs what inference needs: only those rows share its one fix."""
    return bool(
        r.details.get("absent")
        and r.details.get("installable")
        and r.details.get("scope", "inference") == "inference"
        and r.status in (Status.FAIL, Status.WARN)
    )


def _imported(r: CheckResult) -> str:
    """Where a scanned checkout imports the module, and which entry point reaches that import."""
    d = r.details
    places: list[str] = list(d["imported_at"])
    shown = ", ".join(places[:3]) + (f" and {len(places) - 3} more" if len(places) > 3 else "")
    if not d.get("entry_point"):
        return shown
    head = f"{d['at']} ({d['kind']}, {d['scope']}: reached from {d['entry_point']})"
    return head if places == [d["at"]] else f"{head}; imported at {shown}"


def _absent_row(rows: list[CheckResult], console: Console) -> None:
    """Modules that are simply not installed, as one row: on a new venv they are most of the report, and
    one fix covers them all. --verbose (and --json) keep a row each, with what MuseTalk uses it for."""
    names = ", ".join(r.title.removeprefix("import ") for r in rows)
    console.print(f"    {MARK[worst(rows)]} {len(rows)} modules MuseTalk imports are not installed: {escape(names)}")
    console.print("        fix: [bold]envdoctor fix[/]  (installs them as one matched set)", highlight=False)
    console.print("        (--verbose gives each one its row, with what MuseTalk uses it for)", highlight=False)


def render_list(specs: list[CheckSpec], console: Console) -> None:
    for cat in CATEGORIES:
        for s in (s for s in specs if s.category == cat):
            console.print(f"{s.id:<26} {cat:<9} {escape(s.title)}", highlight=False)
