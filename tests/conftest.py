"""Shared fixtures: the CLI run in-process, and stand-in trees written by the tests."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from envdoctor.cachedir import cache_root
from envdoctor.cli import main
from envdoctor.maint import main as maint_main

REPO = Path(__file__).resolve().parent.parent


def _listing(root: Path) -> set[tuple[str, int, float]]:
    """Each file under `root` with its size and mtime (folders count by the files in them)."""
    if not root.is_dir():
        return set()
    stats = ((p, p.lstat()) for p in root.rglob("*"))
    return {(str(p.relative_to(root)), s.st_size, s.st_mtime) for p, s in stats if not stat.S_ISDIR(s.st_mode)}


# The user's own envdoctor cache, as it was before the first test: every test gets a cache of its own, and
# the run fails at its end if this one changed anyway (a module that fixed its cache folder at import).
_USERS_CACHE = cache_root()
_USERS_CACHE_BEFORE = _listing(_USERS_CACHE)


@pytest.fixture(scope="session", autouse=True)
def run_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The run's envdoctor cache, for module- and session-scoped fixtures, which are set up before any
    test's own cache exists; each test then gets its own (own_cache). The mmcv sdists that stub
    generation reads are shared by the run (the same bytes, sha256-checked), not downloaded per test."""
    root = tmp_path_factory.mktemp("envdoctor-run-cache")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ENVDOCTOR_CACHE_DIR", str(root))
        if not os.environ.get("ENVDOCTOR_MMCV_SOURCES"):
            mp.setenv("ENVDOCTOR_MMCV_SOURCES", str(REPO / ".cache" / "mmcv-sources"))
        yield root


@pytest.fixture(autouse=True)
def own_cache(
    run_cache: Path, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Path]:
    """envdoctor's cache (snapshots, the wheelhouse, stub backups) in a folder of this test's alone, so a
    wheel one test builds or the user built never changes what another test sees."""
    root = tmp_path_factory.mktemp("envdoctor-cache")
    monkeypatch.setenv("ENVDOCTOR_CACHE_DIR", str(root))
    yield root


@pytest.fixture(scope="session")
def musetalk_checkout(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real MuseTalk checkout: $ENVDOCTOR_TEST_MUSETALK, or one exported from the bare clone it names.
    MuseTalk's code is not part of this repository; the tests that need it skip without one."""
    given = Path(os.environ.get("ENVDOCTOR_TEST_MUSETALK", ""))
    if not os.environ.get("ENVDOCTOR_TEST_MUSETALK") or not given.is_dir():
        pytest.skip("no MuseTalk checkout: set ENVDOCTOR_TEST_MUSETALK to one (or to a bare clone of it)")
    if (given / "scripts" / "inference.py").is_file():
        return given
    if not shutil.which("git"):
        pytest.skip(f"{given} is no checkout and git is missing to export one from it")
    root = tmp_path_factory.mktemp("musetalk")
    archive = subprocess.run(["git", "-C", str(given), "archive", "HEAD"], capture_output=True, check=True)
    subprocess.run(["tar", "-x", "-C", str(root)], input=archive.stdout, check=True)
    return root


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    after = _listing(_USERS_CACHE)
    if after != _USERS_CACHE_BEFORE:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
        came = sorted(p for p, *_ in after - _USERS_CACHE_BEFORE)
        went = sorted(p for p, *_ in _USERS_CACHE_BEFORE - after)
        print(
            f"\nthe test run changed the user's envdoctor cache {_USERS_CACHE} (a test escaped its own cache): "
            f"new or changed {came[:5]}, gone {went[:5]}"
        )


@dataclass(frozen=True)
class CliRun:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


def _runner(capsys: pytest.CaptureFixture[str], entry: Callable[[list[str]], int]) -> Callable[..., CliRun]:
    def run(*args: str | Sequence[str]) -> CliRun:
        flat: list[str] = []
        for a in args:
            flat.extend([a] if isinstance(a, str) else a)
        capsys.readouterr()
        try:
            code = entry(flat)
        except SystemExit as exc:  # argparse exits on --help and usage errors
            code = int(exc.code or 0)
        captured = capsys.readouterr()
        return CliRun(code, captured.out, captured.err)

    return run


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Callable[..., CliRun]:
    """Run `envdoctor ARGS...` in this process and capture what it prints."""
    return _runner(capsys, main)


@pytest.fixture
def maint_cli(capsys: pytest.CaptureFixture[str]) -> Callable[..., CliRun]:
    """Run `envdoctor-maint ARGS...` (the maintainers' commands) in this process and capture what it prints."""
    return _runner(capsys, maint_main)


@pytest.fixture
def bare_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A PATH with no ffmpeg on it (and nothing else)."""
    empty = tmp_path / "no-tools"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    return str(empty)
