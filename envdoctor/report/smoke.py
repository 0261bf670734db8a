"""Show what a smoke run or a verification found as console text (also the table of `smoke --deps`);
smoke-report.json and its PNG are written by envdoctor.smoke.record.

Formatting only: every decision was made by the verifier and the runner before this is called.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.console import Console
from rich.table import Table

from envdoctor.verify.verdicts import RegionSource, VideoVerification

if TYPE_CHECKING:
    from envdoctor.smoke.deps import DepsResult


def print_verification(v: VideoVerification, console: Console | None = None) -> None:
    console = console or Console()
    table = Table(show_header=False, box=None, pad_edge=False)
    for c in v.checks:
        table.add_row("[green]ok[/]" if c.ok else "[red]FAIL[/]", c.name, c.detail)
    console.print(table)
    colour = "green" if v.success else "red"
    console.print(f"[bold {colour}]{v.verdict.value}[/]: {v.reason}")
    if v.region_source is RegionSource.FACE or v.region_source is None:
        where = f"face in {v.face_fraction:.0%} of sampled frames; mouth motion"
    else:
        where = f"region {v.region} ({v.region_source.value}); motion"
    console.print(f"{where} {v.mouth_motion:.2f} grey levels; analysed at {v.analysed_fps:g} frames/s")


def print_deps(result: DepsResult, console: Console | None = None) -> None:
    """The forward passes of `smoke --deps` as a table, then PASS or FAIL."""
    console = console or Console()
    table = Table(title=f"forward passes in {result.python}")
    for col in ("pass", "status", "device", "build s", "run s", "peak MiB", "detail"):
        table.add_column(col)
    colours = {"ok": "green", "failed": "red", "skipped": "yellow"}
    for p in result.passes:
        table.add_row(
            p.name,
            f"[{colours.get(p.status, 'white')}]{p.status}[/]",
            p.device,
            "" if p.build_seconds is None else f"{p.build_seconds:.1f}",
            "" if p.seconds is None else f"{p.seconds:.2f}",
            "" if p.peak_mb is None else f"{p.peak_mb:.0f}",
            p.detail,
        )
    console.print(table)
    if any(p.memory_kind.startswith("process") for p in result.passes):
        console.print("peak MiB on CPU is the pass process's peak RSS, imports included")
    console.print(("[green]PASS[/]: " if result.success else "[red]FAIL[/]: ") + result.message)
