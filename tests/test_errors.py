"""One error model: every error that ends a command is an EnvdoctorError with a stable code and exit code,
said once by the CLI as one sentence on stderr and, under --json, as the envdoctor.error document on stdout."""

from __future__ import annotations

import argparse
import importlib
import json
import pkgutil
import re
import sys
from pathlib import Path
from typing import Any

import pytest

import envdoctor
from envdoctor import __version__
from envdoctor.envstate.guard import locked
from envdoctor.errors import INTERNAL, INTERRUPTED, EnvdoctorError, UsageError
from envdoctor.uv import UvError, find_uv

FIELDS = ("schema", "schema_version", "envdoctor_version", "command", "code", "message", "exit_code")


def _error_document(run: Any, command: str, code: str, exit_code: int = 2) -> dict[str, Any]:
    assert run.code == exit_code, (run.out, run.err)
    doc = json.loads(run.out)  # stdout holds the document and nothing else
    assert tuple(doc) == FIELDS, doc
    assert (doc["schema"], doc["schema_version"], doc["envdoctor_version"]) == ("envdoctor.error", 1, __version__)
    assert (doc["command"], doc["code"], doc["exit_code"]) == (command, code, exit_code), doc
    assert doc["message"] and "\n" not in doc["message"], doc
    # The human still reads the same sentence on stderr, once.
    assert run.err.strip() == f"envdoctor: {doc['message']}", run.err
    return doc


def test_check_of_a_missing_interpreter_prints_the_error_document(cli) -> None:
    run = cli("check", "--python", "/nonexistent", "--json")
    doc = _error_document(run, "check", "usage")
    assert doc["message"] == "/nonexistent does not exist."


# (the command's name, a command line that fails at once, the code it fails with) for every subcommand that
# has --json: a path that is not there, a file that is not what it should be. {tmp} is the test's folder.
CASES = [
    ("check", "check --venv {tmp}/missing", "usage"),
    ("explain", "explain {tmp}/missing.log", "usage"),
    ("fix", "fix --venv {tmp}/missing --yes", "usage"),
    ("plan", "plan --venv {tmp}/missing", "usage"),
    ("smoke", "smoke --out {tmp}/out", "usage"),
    ("smoke", "smoke --deps --venv {tmp}/missing --out {tmp}/out", "usage"),
    ("verify", "verify {tmp}/missing.mp4 --out {tmp}/out", "usage"),
    ("stub generate", "stub generate {tmp}/missing.tar.gz", "source-unavailable"),
    ("stub generate", "stub generate {tmp}/not-mmcv.txt", "source-unavailable"),
    ("stub install", "stub install --venv {tmp}/missing", "usage"),
    ("stub remove", "stub remove --venv {tmp}/missing", "usage"),
    ("stub status", "stub status --venv {tmp}/missing", "usage"),
    ("wheelhouse index", "wheelhouse index {tmp}/missing", "usage"),
    ("models verify", "models verify --models {tmp}/missing", "usage"),
    ("models fetch", "models fetch --models {tmp} --from {tmp}/missing", "usage"),
    ("wheelhouse list", "wheelhouse list {tmp}/not-mmcv.txt", "usage"),
    ("lock", "lock --venv {tmp}/missing --output {tmp}/out", "usage"),
    ("bundle", "bundle {tmp}/missing", "usage"),
    ("fix", "fix --from {tmp}/missing --venv {tmp}/new --create", "usage"),
    ("dockerfile", "dockerfile {tmp}/missing", "usage"),
]

# The same for the maintainers' entry point (`envdoctor-maint`), which shares the CLI's error mapping.
MAINT_CASES = [
    ("stubs", "stubs --check --cache {tmp}/not-mmcv.txt", "usage"),
]


@pytest.mark.parametrize(("command", "line", "code"), CASES, ids=[line.split(" {")[0] for _, line, _ in CASES])
def test_every_command_fails_with_the_error_document(cli, tmp_path: Path, command: str, line: str, code: str) -> None:
    (tmp_path / "not-mmcv.txt").write_text("not a wheel, an sdist or a folder\n")
    argv = [word.format(tmp=tmp_path) for word in line.split()]
    _error_document(cli(*argv, "--json"), command, code)
    assert not (tmp_path / "out").exists(), "a failing command writes no report"


@pytest.mark.parametrize(
    ("command", "line", "code"), MAINT_CASES, ids=[line.split(" {")[0] for _, line, _ in MAINT_CASES]
)
def test_every_maintainer_command_fails_with_the_error_document(
    maint_cli, tmp_path: Path, command: str, line: str, code: str
) -> None:
    (tmp_path / "not-mmcv.txt").write_text("not a folder\n")
    argv = [word.format(tmp=tmp_path) for word in line.split()]
    _error_document(maint_cli(*argv, "--json"), command, code)


def _with_json(parser: argparse.ArgumentParser, above: tuple[str, ...] = ()) -> set[str]:
    found = {" ".join(above)} if any(a.dest == "json" for a in parser._actions) else set()
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                found |= _with_json(child, (*above, name))
    return found


def test_every_json_command_is_covered() -> None:
    from envdoctor.cli import build_parser
    from envdoctor.maint import build_parser as build_maint_parser

    assert _with_json(build_parser()) == {command for command, _, _ in CASES}
    assert _with_json(build_maint_parser()) == {command for command, _, _ in MAINT_CASES}


def test_lock_has_no_json_and_fails_in_one_sentence(maint_cli, tmp_path: Path) -> None:
    run = maint_cli("lock", "--table", str(tmp_path / "missing.md"))
    assert (run.code, run.out) == (2, ""), run
    assert run.err.strip() == f"envdoctor: {tmp_path / 'missing.md'} is not a file."


def test_the_matrix_lock_is_a_maintainer_command_not_a_user_one(cli, maint_cli) -> None:
    # The user's `lock` locks the user's own environment; the matrix's options are not among its own.
    gone = cli("lock", "--table", "README.md")
    assert (gone.code, gone.out) == (2, "") and "unrecognized arguments: --table" in gone.err, gone
    helped = maint_cli("--help")
    assert helped.code == 0 and re.search(r"^\s+lock\s+write lockfiles", helped.out, re.M), helped.out
    assert re.search(r"^\s+stubs\s+regenerate", helped.out, re.M), helped.out
    assert not re.search(r"^\s+lock\s+write lockfiles", cli("--help").out, re.M), "the user's lock is not the matrix's"


def test_text_mode_prints_the_sentence_only(cli) -> None:
    run = cli("check", "--python", "/nonexistent")
    assert (run.code, run.out, run.err) == (2, "", "envdoctor: /nonexistent does not exist.\n")


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    house = tmp_path / "house"
    house.mkdir()
    return house


def test_an_escaping_uv_failure_is_uv_failed_not_internal(cli, folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def fails(_folder: Path) -> None:
        raise UvError(["pip", "install", "x"], 2, "error: no network\n")

    monkeypatch.setattr("envdoctor.wheelhouse.listing", fails)
    run = cli("wheelhouse", "list", str(folder), "--json")
    assert run.code == 2 and "internal error" not in run.err, run.err
    doc = json.loads(run.out)
    assert (doc["code"], doc["command"]) == ("uv-failed", "wheelhouse list")
    assert doc["message"].startswith("uv pip install x failed (exit 2):") and "no network" in doc["message"]


def test_an_unexpected_exception_is_internal_and_still_a_document(
    cli, folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def fails(_folder: Path) -> None:
        raise RuntimeError("a bug")

    monkeypatch.delenv("ENVDOCTOR_DEBUG", raising=False)
    monkeypatch.setattr("envdoctor.wheelhouse.listing", fails)
    doc = _error_document(cli("wheelhouse", "list", str(folder), "--json"), "wheelhouse list", INTERNAL)
    assert doc["message"] == "internal error: RuntimeError: a bug (set ENVDOCTOR_DEBUG=1 for the traceback)."
    text = cli("wheelhouse", "list", str(folder))
    assert (text.code, text.out) == (2, "") and text.err.startswith("envdoctor: internal error: RuntimeError")


def test_ctrl_c_is_interrupted(cli, folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def stopped(_folder: Path) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr("envdoctor.wheelhouse.listing", stopped)
    doc = _error_document(cli("wheelhouse", "list", str(folder), "--json"), "wheelhouse list", INTERRUPTED)
    assert doc["message"] == "interrupted."


def test_a_busy_environment_refuses_with_exit_1(cli, tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    find_uv().venv(venv, python=sys.executable)
    with locked(venv, "fix"):
        for action in ("install", "remove"):
            run = cli("stub", action, "--venv", str(venv), "--no-wait", "--json")
            doc = _error_document(run, f"stub {action}", "busy", exit_code=1)
            assert doc["message"].startswith("envdoctor fix (pid") and "not waiting (--no-wait)" in doc["message"]


def _every_error_class() -> list[type[EnvdoctorError]]:
    for info in pkgutil.walk_packages(envdoctor.__path__, "envdoctor."):
        if not info.name.endswith("__main__"):  # that one runs the CLI
            importlib.import_module(info.name)
    found: list[type[EnvdoctorError]] = []
    todo: list[type[EnvdoctorError]] = [EnvdoctorError]
    while todo:
        cls = todo.pop()
        found.append(cls)
        todo.extend(cls.__subclasses__())
    return found


def test_every_error_class_has_its_own_code_and_a_project_exit_code() -> None:
    classes = _every_error_class()
    assert UsageError in classes and len(classes) > 10, classes
    codes = [cls.code for cls in classes]
    assert len(set(codes)) == len(codes), sorted(codes)
    assert not {INTERNAL, INTERRUPTED} & set(codes), "those two are the CLI's own, for what is no EnvdoctorError"
    for cls in classes:
        assert cls.exit_code in (1, 2), cls
        assert re.fullmatch(r"[a-z]+(-[a-z]+)*", cls.code), cls
