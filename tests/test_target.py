"""Which interpreter envdoctor treats, and the one clear sentence when the input is wrong."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from envdoctor.errors import UsageError
from envdoctor.target import resolve
from envdoctor.uv import find_uv


@pytest.fixture(scope="module")
def bare_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("targets") / "env with space"
    find_uv().venv(root, python=sys.executable)
    return root


def _one_sentence(err: str) -> None:
    lines = [ln for ln in err.strip().splitlines() if ln.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("envdoctor: ") and lines[0].endswith("."), err
    assert "Traceback" not in err


def test_nonexistent_python_is_one_sentence_and_exit_2(cli):
    run = cli("check", "--python", "/nonexistent/python3")
    assert run.code == 2
    _one_sentence(run.err)
    assert "/nonexistent/python3 does not exist" in run.err


def test_non_python_executable_is_refused(cli):
    run = cli("check", "--python", "/bin/ls")
    assert run.code == 2
    _one_sentence(run.err)
    assert "/bin/ls is not a working Python interpreter" in run.err


def test_a_folder_given_as_python_is_refused(cli, tmp_path):
    run = cli("check", "--python", str(tmp_path))
    assert run.code == 2
    _one_sentence(run.err)


def test_venv_that_is_not_a_venv_is_refused(cli, tmp_path):
    run = cli("check", "--venv", str(tmp_path))
    assert run.code == 2
    _one_sentence(run.err)
    assert "not a virtual environment" in run.err


def test_venv_flag_with_spaces_in_path(bare_venv):
    t = resolve(venv=str(bare_venv))
    assert t.source == "--venv" and t.is_venv
    assert Path(t.prefix) == bare_venv
    assert "given with --venv" in t.reason


def test_default_prefers_active_virtualenv(bare_venv, tmp_path):
    (tmp_path / ".venv").mkdir()  # would be second choice; must not win
    t = resolve(cwd=tmp_path, environ={"VIRTUAL_ENV": str(bare_venv), "PATH": "/usr/bin:/bin"})
    assert t.source == "VIRTUAL_ENV"
    assert "active virtual environment" in t.reason


@pytest.fixture(scope="module")
def conda_env(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder laid out as a conda environment: conda-meta/ beside the interpreter in bin/."""
    root = tmp_path_factory.mktemp("conda") / "envs" / "musetalk"
    find_uv().venv(root, python=sys.executable)
    (root / "conda-meta").mkdir()
    (root / "conda-meta" / "history").write_text("==> 2026-01-01 00:00:00 <==\n# cmd: conda create -n musetalk\n")
    return root


def test_default_takes_the_active_conda_environment_before_dot_venv(conda_env, bare_venv, tmp_path):
    (tmp_path / ".venv").symlink_to(bare_venv)  # uv's order: CONDA_PREFIX comes before ./.venv
    t = resolve(cwd=tmp_path, environ={"CONDA_PREFIX": str(conda_env), "PATH": "/usr/bin:/bin"})
    assert t.source == "CONDA_PREFIX" and Path(t.prefix) == conda_env
    assert t.reason == f"the active conda environment {conda_env} (CONDA_PREFIX)"


def test_an_active_virtualenv_comes_before_the_conda_environment(conda_env, bare_venv, tmp_path):
    t = resolve(cwd=tmp_path, environ={"VIRTUAL_ENV": str(bare_venv), "CONDA_PREFIX": str(conda_env)})
    assert t.source == "VIRTUAL_ENV" and Path(t.prefix) == bare_venv


def test_check_says_it_took_the_conda_environment(cli, conda_env, tmp_path, monkeypatch):
    monkeypatch.delenv("VIRTUAL_ENV", raising=False)
    monkeypatch.setenv("CONDA_PREFIX", str(conda_env))
    monkeypatch.chdir(tmp_path)
    run = cli("check", "--only", "system.python")
    assert f"the active conda environment {conda_env} (CONDA_PREFIX)" in run.out, run.out + run.err
    doc = cli("check", "--only", "system.python", "--json").json()
    assert (doc["target"]["source"], Path(doc["target"]["prefix"])) == ("CONDA_PREFIX", conda_env)


def test_a_conda_prefix_without_python_is_one_sentence(cli, tmp_path, monkeypatch):
    (tmp_path / "conda-meta").mkdir()
    monkeypatch.delenv("VIRTUAL_ENV", raising=False)
    monkeypatch.setenv("CONDA_PREFIX", str(tmp_path))
    run = cli("check")
    assert run.code == 2
    _one_sentence(run.err)
    assert f"CONDA_PREFIX names {tmp_path}, which has no bin/python" in run.err


def test_default_then_dot_venv(bare_venv, tmp_path):
    link = tmp_path / ".venv"
    link.symlink_to(bare_venv)
    t = resolve(cwd=tmp_path, environ={"PATH": "/usr/bin:/bin"})
    assert t.source == "./.venv" and t.is_venv
    assert "no virtual or conda environment is active" in t.reason


def test_default_then_python3_on_path(tmp_path):
    t = resolve(cwd=tmp_path, environ={"PATH": str(Path(sys.executable).parent)})
    assert t.source == "PATH"
    assert "python3 on PATH" in t.reason


def test_both_flags_is_a_usage_error():
    with pytest.raises(UsageError):
        resolve(python=sys.executable, venv="/tmp")


@pytest.mark.parametrize("version", ["2.7", "3.6", "3.7"])
def test_pythons_older_than_the_probes_are_refused_in_one_sentence(cli, version):
    from envkit import PYTHONS_HINT, find_python

    found = find_python(version)
    if not found:
        pytest.skip(f"no Python {version} found: {PYTHONS_HINT}")
    run = cli("check", "--python", found)
    assert run.code == 2
    _one_sentence(run.err)
    assert "envdoctor treats Python 3.8 and newer" in run.err
