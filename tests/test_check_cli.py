"""The check command's surface: --help, --list-checks, --only, --json schema, exit codes."""

from __future__ import annotations

import pkgutil
import re
import sys

import envdoctor.commands
from envdoctor.checks import REGISTRY
from envdoctor.report.check_json import SCHEMA, SCHEMA_VERSION
from envdoctor.report.check_text import GROUP_ABSENT
from envdoctor.uv import find_uv


def test_help_teaches_the_command(cli):
    run = cli("check", "--help")
    assert run.code == 0
    for words in ("--python", "--venv", "--app", "--models", "--json", "--list-checks", "exit codes", "examples"):
        assert words in run.out


def test_top_level_help_lists_check(cli):
    # "check" is in the description too ("Start with: envdoctor check"): look in the command list itself.
    run = cli("--help")
    assert run.code == 0 and "Exit codes" in run.out
    # A command and its summary, beside it or (a long name) on the next line.
    listed = re.findall(r"^ {4}([a-z]+)(?: +\S|\n {6,}\S)", run.out, flags=re.MULTILINE)
    assert "check" in listed, run.out
    commands = {m.name for m in pkgutil.iter_modules(envdoctor.commands.__path__) if not m.name.startswith("_")}
    assert commands <= set(listed), "every command is listed with its summary"


def test_list_checks_names_every_check_with_its_category(cli):
    run = cli("check", "--list-checks")
    assert run.code == 0
    for spec in REGISTRY:
        assert spec.id in run.out
    for category in ("System", "GPU", "Packages", "Imports", "Models", "Tools"):
        assert category in run.out


def test_unknown_check_is_a_usage_error(cli):
    run = cli("check", "--python", sys.executable, "--only", "no.such.check")
    assert run.code == 2 and "No check matches no.such.check" in run.err


def test_json_document_is_versioned_and_complete(cli):
    # Without imports (no check needs them), against envdoctor's own interpreter: fast, and real.
    run = cli("check", "--python", sys.executable, "--only", "system", "--only", "tools", "--json")
    doc = run.json()
    assert doc["schema"] == SCHEMA and doc["schema_version"] == SCHEMA_VERSION
    assert doc["target"]["python"] == sys.executable and doc["target"]["source"] == "--python"
    assert set(doc["summary"]) >= {"exit_code", "checks", "problems", "warnings", "passed", "text"}
    assert doc["summary"]["exit_code"] == run.code
    assert {r["category"] for r in doc["results"]} == {"System", "Tools"}
    for r in doc["results"]:
        assert set(r) >= {"id", "category", "title", "status", "found", "expected", "why", "fix", "breaker"}
        assert r["status"] in ("ok", "warn", "fail", "skip")
    assert doc["facts"]["python"]["version"].count(".") == 2
    assert doc["facts"]["imports"] == []  # nothing imported when no selected check needs it


def test_text_report_has_categories_marks_and_a_closing_line(cli):
    run = cli("check", "--python", sys.executable, "--only", "system", "--only", "packages.torch")
    assert "System" in run.out and "Packages" in run.out
    assert "✓" in run.out
    last = [ln for ln in run.out.splitlines() if ln.strip()][-2:]
    assert any(" checks." in ln for ln in last)


def test_modules_that_are_not_installed_share_one_row_in_text_and_keep_theirs_in_json(cli, tmp_path):
    bare = tmp_path / "bare"  # a new venv: nothing MuseTalk imports is there
    find_uv().venv(bare, python=sys.executable)
    run = cli("check", "--venv", str(bare), "--only", "imports")
    assert run.code == 1
    row = next(ln for ln in run.out.splitlines() if "modules MuseTalk imports are not installed" in ln)
    doc = cli("check", "--venv", str(bare), "--only", "imports", "--json").json()
    absent = [r for r in doc["results"] if r["details"].get("absent")]
    assert len(absent) >= GROUP_ABSENT and f"{len(absent)} modules" in row
    for r in absent:  # each is named in the row, and keeps its own row (with its why) in JSON
        assert r["title"].removeprefix("import ") in row and r["why"]
    assert "import torch:" not in run.out and "fix: envdoctor fix" in run.out
    verbose = cli("check", "--venv", str(bare), "--only", "imports", "--verbose")
    assert "modules MuseTalk imports are not installed" not in verbose.out
    assert "import torch: ModuleNotFoundError: No module named 'torch'" in verbose.out
