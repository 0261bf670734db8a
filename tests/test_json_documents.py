"""Every `--json` document (and smoke-report.json) starts with the same head: what it is, its version, and
which envdoctor wrote it, so a script can refuse a document it does not know."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

from envdoctor import __version__
from envdoctor.checks import REGISTRY
from envdoctor.uv import find_uv


def _head(doc: dict[str, Any], schema: str, version: int = 1) -> None:
    got = (doc.get("schema"), doc.get("schema_version"), doc.get("envdoctor_version"))
    assert got == (schema, version, __version__)


@pytest.fixture(scope="module")
def bare(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A venv with nothing installed: every command still answers, and in JSON."""
    venv = tmp_path_factory.mktemp("json") / "bare venv"
    find_uv().venv(venv, python=sys.executable)
    return venv


def test_check(cli, bare: Path) -> None:
    run = cli("check", "--venv", str(bare), "--json", "--only", "system.python")
    _head(json.loads(run.out), "envdoctor.check")


def test_check_list(cli) -> None:
    doc = json.loads(cli("check", "--list-checks", "--json", "--only", "system").out)
    _head(doc, "envdoctor.checks")
    assert {c["id"] for c in doc["checks"]} == {s.id for s in REGISTRY if s.category == "System"}


def test_explain(cli, tmp_path: Path) -> None:
    log = tmp_path / "ci.log"
    log.write_text("ModuleNotFoundError: No module named 'mmcv._ext'\n")
    _head(json.loads(cli("explain", str(log), "--json").out), "envdoctor.explain")


def test_stub_status(cli, bare: Path) -> None:
    run = cli("stub", "status", "--venv", str(bare), "--json")
    doc = json.loads(run.out)
    _head(doc, "envdoctor.stub")
    assert doc["command"] == "stub status" and doc["mmcv"] is None, run.out


def test_smoke_deps_prints_what_it_writes(cli, bare: Path, tmp_path: Path) -> None:
    run = cli("smoke", "--deps", "--venv", str(bare), "--out", str(tmp_path), "--json")
    assert run.code == 1, "nothing is installed: the passes that need torch fail"
    printed = json.loads(run.out)
    _head(printed, "envdoctor.smoke")
    assert printed == json.loads((tmp_path / "smoke-report.json").read_text())
    assert printed["mode"] == "deps" and not printed["success"]


def test_plan_and_fix_and_wheelhouse(cli, bare: Path, tmp_path: Path) -> None:
    _head(json.loads(cli("plan", "--venv", str(bare), "--json").out), "envdoctor.plan", 2)
    # --rollback with nothing to roll back answers at once, and in the fix document
    fixed = cli("fix", "--venv", str(bare), "--rollback", "--json")
    _head(json.loads(fixed.out), "envdoctor.fix", 2)
    house = tmp_path / "house"
    house.mkdir()
    listed = json.loads(cli("wheelhouse", "list", str(house), "--json").out)
    _head(listed, "envdoctor.wheelhouse")
    assert listed["command"] == "wheelhouse list" and listed["wheels"] == []


def test_models_verify_and_fetch(cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    models, downloads = tmp_path / "models", tmp_path / "downloads"
    models.mkdir()
    downloads.mkdir()
    verified = cli("models", "verify", "--models", str(models), "--json")
    assert verified.code == 1
    _head(json.loads(verified.out), "envdoctor.models.verify")
    fetched = cli("models", "fetch", "--models", str(models), "--from", str(downloads), "--json")
    assert fetched.code == 1, "nothing to take from an empty folder"
    _head(json.loads(fetched.out), "envdoctor.models.fetch")
    assert list(models.iterdir()) == []
