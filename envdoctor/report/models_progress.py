"""The one progress display of `envdoctor models fetch`: a single bar on stderr for all files at once (files
done, bytes, speed, time left)."""

from __future__ import annotations

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)


class Bar:
    def __init__(self, console: Console | None = None) -> None:
        self._progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
            console=console or Console(stderr=True),
            transient=True,
        )
        self._task: TaskID | None = None
        self._files = 0
        self._done = 0

    def start(self, files: int, total_bytes: int) -> None:
        if not files:
            return
        self._files = files
        self._task = self._progress.add_task(f"fetching 0/{files} files", total=total_bytes)
        self._progress.start()

    def advance(self, n: int) -> None:
        if self._task is not None:
            self._progress.advance(self._task, n)

    def file_done(self, title: str) -> None:
        self._done += 1
        if self._task is not None:
            self._progress.update(self._task, description=f"fetching {self._done}/{self._files} files")

    def stop(self) -> None:
        if self._task is not None:
            self._progress.stop()
