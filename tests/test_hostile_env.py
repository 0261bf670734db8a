"""A damaged environment, an odd interpreter, relative paths: a report or one sentence, never an internal error.

The damage is written by hand into a real (bare) virtualenv's site-packages, the way a half-finished
install, a copied folder or a bad disk leaves it; the probes then run inside that venv for real.
"""

from __future__ import annotations

import sys
import sysconfig
from pathlib import Path

import pytest

from envdoctor import plan as plan_mod
from envdoctor.probe import facts_from_raw, run_facts_probe
from envdoctor.target import resolve
from envdoctor.uv import find_uv


def _one_sentence(err: str) -> None:
    lines = [ln for ln in err.strip().splitlines() if ln.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("envdoctor: ") and "internal error" not in err and "Traceback" not in err, err


def _site_packages(venv: Path) -> Path:
    rel = sysconfig.get_path("purelib", vars={"base": "", "platbase": ""}).lstrip("/")
    found = venv / rel
    assert found.is_dir(), found
    return found


def _dist_info(
    site: Path,
    name: str,
    version: str,
    *,
    metadata: bytes | None = None,
    record: bytes | None = b"",
    top: str | None = None,
) -> Path:
    folder = site / f"{name}-{version}.dist-info"
    folder.mkdir()
    meta = metadata if metadata is not None else f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode()
    (folder / "METADATA").write_bytes(meta)
    if record is not None:
        (folder / "RECORD").write_bytes(record or f"{top or name}/__init__.py,,\n".encode())
    return folder


@pytest.fixture(scope="module")
def damaged_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("damaged") / "venv"
    find_uv().venv(root, python=sys.executable)
    site = _site_packages(root)
    _dist_info(site, "goodpkg", "1.0")
    _dist_info(site, "zgoodpkg", "2.0")  # sorts after every damaged one
    # torch itself unreadable: the original report, where plan then planned a torch install over it.
    bad_meta = b"Metadata-Version: 2.1\nName: torch\nVersion: 2.1.0\nSummary: \xff\xfe\n"
    _dist_info(site, "torch", "2.1.0", metadata=bad_meta)
    _dist_info(site, "badrecord", "1.0", record=b"badrecord/__init__.py,,\n\xff\xfe\n")
    _dist_info(site, "norecord", "1.0", record=None)
    _dist_info(site, "oddver", "1.0", metadata=b"Metadata-Version: 2.1\nName: oddver\nVersion: not a version!\n")
    return root


def test_damaged_distributions_are_named_with_their_file_and_the_rest_still_counts(damaged_venv: Path) -> None:
    target = resolve(venv=str(damaged_venv))
    facts = facts_from_raw(run_facts_probe(target, sections=("python", "distributions")), [], None)
    assert facts.dist("goodpkg") is not None and facts.version("zgoodpkg") is not None
    damaged = {d.name: d for d in facts.damaged}
    assert set(damaged) == {"torch", "badrecord", "norecord", "oddver"}, damaged
    assert damaged["torch"].file == "METADATA" and "UTF-8" in damaged["torch"].problem
    assert damaged["badrecord"].file == "RECORD" and "UTF-8" in damaged["badrecord"].problem
    assert damaged["norecord"].file == "RECORD" and damaged["norecord"].problem == "missing"
    assert damaged["oddver"].file == "METADATA" and "not PEP 440" in damaged["oddver"].problem
    assert damaged["torch"].path.endswith("torch-2.1.0.dist-info")
    for name in damaged:
        assert facts.dist(name) is None  # neither installed nor absent: not planned over


def test_plan_refuses_over_a_distribution_it_could_not_read(damaged_venv: Path) -> None:
    target = resolve(venv=str(damaged_venv))
    facts = facts_from_raw(run_facts_probe(target), [], None)
    plan = plan_mod.build(target, facts)
    assert not plan.ok
    assert plan.refusal is not None
    assert "torch" in plan.refusal and "METADATA" in plan.refusal and "will not plan" in plan.refusal


def test_check_reports_each_damaged_distribution(damaged_venv: Path, cli) -> None:
    run = cli("check", "--venv", str(damaged_venv), "--only", "packages", "--json")
    assert run.code == 1, run.err
    results = run.json()["results"]
    readable = [r for r in results if r["id"] == "packages.readable"]
    assert {r["title"] for r in readable} == {f"{n} is damaged" for n in ("torch", "badrecord", "norecord", "oddver")}
    torch = next(r for r in results if r["id"] == "packages.torch")
    assert "damaged" in torch["found"]


def test_plan_command_on_a_damaged_env_says_why_and_exits_1(damaged_venv: Path, cli) -> None:
    run = cli("plan", "--venv", str(damaged_venv))
    assert run.code == 1, run.err
    assert "Refused" in run.out and "torch" in run.out
    assert "internal error" not in run.err


def test_mmcv_with_a_version_that_is_not_pep440_is_a_finding(tmp_path_factory: pytest.TempPathFactory, cli) -> None:
    root = tmp_path_factory.mktemp("oddmmcv") / "venv"
    find_uv().venv(root, python=sys.executable)
    site = _site_packages(root)
    (site / "mmcv").mkdir()
    (site / "mmcv" / "__init__.py").write_text("")
    (site / "mmcv" / "version.py").write_text("__version__ = '2.1.0 custom build'\n")
    (site / "mmcv" / "ops").mkdir()
    _dist_info(site, "mmcv", "2.1.0", top="mmcv")
    _dist_info(site, "mmpose", "1.3.2", top="mmpose")
    run = cli("check", "--venv", str(root), "--only", "packages", "--json")
    assert run.code == 1, run.err
    window = [r for r in run.json()["results"] if r["id"] == "packages.mmcv-window"]
    assert window and "not a PEP 440 version" in window[0]["found"]


def test_an_interpreter_that_prints_a_nonsense_version_is_one_sentence(tmp_path: Path, cli) -> None:
    fake = tmp_path / "python3"
    fake.write_text('#!/bin/sh\necho \'{"version": "abc", "prefix": "/", "base_prefix": "/", "executable": "x"}\'\n')
    fake.chmod(0o755)
    run = cli("check", "--python", str(fake))
    assert run.code == 2
    _one_sentence(run.err)
    assert "'abc'" in run.err and "not a Python version" in run.err


def test_relative_venv_and_app_paths_work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cli) -> None:
    venv = tmp_path / "env"
    find_uv().venv(venv, python=sys.executable)
    app = tmp_path / "app"
    (app / "scripts").mkdir(parents=True)
    (app / "scripts" / "inference.py").write_text("import json\nimport goodpkg_missing\n")
    monkeypatch.chdir(tmp_path)
    run = cli("check", "--venv", "env", "--app", "app", "--only", "imports", "--json")
    assert run.code == 1, run.err  # goodpkg_missing is not installed: a finding, not a crash
    assert "internal error" not in run.err
    found = [r for r in run.json()["results"] if r.get("title") == "import goodpkg_missing"]
    assert found and "No module named" in found[0]["found"]


def test_stub_install_refuses_over_a_damaged_mmcv(tmp_path_factory: pytest.TempPathFactory) -> None:
    from envdoctor.stub.state import status, why_not_install

    root = tmp_path_factory.mktemp("damaged-mmcv") / "venv"
    find_uv().venv(root, python=sys.executable)
    site = _site_packages(root)
    (site / "mmcv" / "ops").mkdir(parents=True)
    (site / "mmcv" / "__init__.py").write_text("")
    (site / "mmcv" / "version.py").write_text("__version__ = '2.1.0'\n")
    _dist_info(site, "mmcv_lite", "2.1.0", record=b"mmcv/__init__.py,,\n\xff\n")
    state = status(resolve(venv=str(root)))
    refusal = why_not_install(state)
    assert refusal is not None and "mmcv_lite" in refusal and "RECORD" in refusal and "cannot be read" in refusal
