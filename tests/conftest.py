"""Shared fixtures: the CLI run in-process, and stand-in trees written by the tests."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from envdoctor.cli import main


@dataclass(frozen=True)
class CliRun:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Callable[..., CliRun]:
    """Run `envdoctor ARGS...` in this process and capture what it prints."""

    def run(*args: str | Sequence[str]) -> CliRun:
        flat: list[str] = []
        for a in args:
            flat.extend([a] if isinstance(a, str) else a)
        capsys.readouterr()
        try:
            code = main(flat)
        except SystemExit as exc:  # argparse exits on --help and usage errors
            code = int(exc.code or 0)
        captured = capsys.readouterr()
        return CliRun(code, captured.out, captured.err)

    return run


@pytest.fixture
def bare_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A PATH with no ffmpeg on it (and nothing else)."""
    empty = tmp_path / "no-tools"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    return str(empty)
