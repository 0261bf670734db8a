"""`envdoctor lock --venv/--check`: a live environment locked with its wheels' hashes, and compared.

Real venvs made with uv from a folder of real wheels (no index, no network)."""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import pytest
from deploykit import envdoctor_cli as _cli
from deploykit import pure_wheel as _wheel

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

from envdoctor.uv import find_uv
from envdoctor.wheelfile import write_wheel


def _install(venv: Path, wheels: Path, *reqs: str) -> None:
    find_uv().run(["pip", "install", "--python", str(venv / "bin" / "python"), "--no-index", "--find-links",
                   str(wheels), *reqs])  # fmt: skip


@pytest.fixture
def locked(tmp_path: Path) -> tuple[Path, Path, Path]:
    wheels = tmp_path / "wheels"
    for name, version in (("deploydemo", "1.0"), ("deploydemo", "1.1"), ("deployother", "2.0")):
        _wheel(wheels, name, version)
    venv = tmp_path / "venv"
    find_uv().venv(venv)
    _install(venv, wheels, "deploydemo==1.0", "deployother==2.0")
    out = tmp_path / "deploy"
    run = _cli("lock", "--venv", str(venv), "--output", str(out), "--allow-failing", "--offline", "--find-links",
               str(wheels), "--json")  # fmt: skip
    assert run.returncode == 0, run.stderr
    return venv, wheels, out


@pytest.mark.envs
def test_lock_pins_every_distribution_with_its_wheel_hash(locked: tuple[Path, Path, Path]) -> None:
    _venv, wheels, out = locked
    req = (out / "requirements.txt").read_text()
    sha = hashlib.sha256((wheels / "deploydemo-1.0-py3-none-any.whl").read_bytes()).hexdigest()
    assert f"deploydemo==1.0 --hash=sha256:{sha}" in req
    assert "deployother==2.0 --hash=sha256:" in req
    doc = tomllib.loads((out / "pylock.toml").read_text())
    assert doc["lock-version"] == "1.0"
    assert {p["name"]: p["wheels"][0]["hashes"]["sha256"] for p in doc["packages"]}["deploydemo"] == sha


def _one_wheel_env(tmp_path: Path) -> tuple[Path, Path]:
    """A venv holding deploydemo 1.0, installed from a folder of one wheel (venv, that folder)."""
    wheels = tmp_path / "wheels"
    _wheel(wheels, "deploydemo", "1.0")
    venv = tmp_path / "venv"
    find_uv().venv(venv)
    _install(venv, wheels, "deploydemo==1.0")
    return venv, wheels


@pytest.mark.envs
def test_lock_json_is_the_versioned_lock_env_document(tmp_path: Path) -> None:
    venv, wheels = _one_wheel_env(tmp_path)
    out = tmp_path / "deploy"
    run = _cli("lock", "--venv", str(venv), "--output", str(out), "--allow-failing", "--offline", "--find-links",
               str(wheels), "--json")  # fmt: skip
    assert run.returncode == 0, run.stderr
    doc = json.loads(run.stdout)
    assert (doc["schema"], doc["schema_version"]) == ("envdoctor.lock-env", 1) and not doc["check_passed"]
    sha = hashlib.sha256((wheels / "deploydemo-1.0-py3-none-any.whl").read_bytes()).hexdigest()
    row = next(p for p in doc["packages"] if p["name"] == "deploydemo")
    assert (row["wheel"], row["sha256"], row["built_by_envdoctor"]) == ("deploydemo-1.0-py3-none-any.whl", sha, False)
    (wheels / "deploydemo-1.0-py3-none-any.whl").unlink()
    refused = _cli("lock", "--venv", str(venv), "--output", str(tmp_path / "again"), "--allow-failing", "--offline",
                   "--json")  # fmt: skip
    assert refused.returncode == 1, refused.stdout + refused.stderr
    error = json.loads(refused.stdout)
    assert (error["schema"], error["command"], error["code"]) == ("envdoctor.error", "lock", "lock-unhashed")


@pytest.mark.envs
def test_lock_check_names_the_upgraded_package(locked: tuple[Path, Path, Path]) -> None:
    venv, wheels, out = locked
    same = _cli("lock", "--check", str(out), "--venv", str(venv))
    assert same.returncode == 0, same.stdout + same.stderr
    _install(venv, wheels, "deploydemo==1.1")
    differs = _cli("lock", "--check", str(out), "--venv", str(venv), "--json")
    assert differs.returncode == 1, differs.stdout + differs.stderr
    doc = json.loads(differs.stdout)
    assert doc["schema"] == "envdoctor.lock-env-check"
    assert [(d["kind"], d["name"]) for d in doc["differences"]] == [("VersionDiffers", "deploydemo")]


@pytest.mark.envs
def test_lock_refuses_a_distribution_without_a_known_hash(tmp_path: Path) -> None:
    venv, wheels = _one_wheel_env(tmp_path)
    (wheels / "deploydemo-1.0-py3-none-any.whl").unlink()
    # The wheel is gone, and no index is asked: nothing here could reproduce it.
    run = _cli("lock", "--venv", str(venv), "--output", str(tmp_path / "deploy"), "--allow-failing", "--offline")
    assert run.returncode == 1, run.stdout + run.stderr
    assert "deploydemo" in run.stderr and "--allow-unhashed" in run.stderr
    assert not (tmp_path / "deploy" / "pylock.toml").exists()


def test_written_wheel_is_byte_for_byte_reproducible(tmp_path: Path) -> None:
    files = [("pkg/a.py", b"a = 1\n"), ("pkg/b.py", b"b = 2\n"), ("pkg-1.dist-info/METADATA", b"Name: pkg\n")]
    one = write_wheel(tmp_path / "one" / "pkg-1-py3-none-any.whl", "pkg-1.dist-info", files)
    two = write_wheel(tmp_path / "two" / "pkg-1-py3-none-any.whl", "pkg-1.dist-info", list(reversed(files)))
    assert hashlib.sha256(one.read_bytes()).hexdigest() == hashlib.sha256(two.read_bytes()).hexdigest()


@pytest.mark.envs
@pytest.mark.network
def test_lock_copies_the_stub_wheel_envdoctor_installed(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    uv = find_uv()
    uv.venv(venv)
    uv.run(["pip", "install", "--python", str(venv / "bin" / "python"), "mmcv-lite==2.1.0", "numpy<2"])
    installed = _cli("stub", "install", "--venv", str(venv))
    assert installed.returncode == 0, installed.stdout + installed.stderr
    out = tmp_path / "deploy"
    # Offline and version-only for PyPI's wheels: what is asked of the lock is the stub, which only envdoctor has.
    run = _cli("lock", "--venv", str(venv), "--output", str(out), "--allow-failing", "--offline", "--allow-unhashed")
    assert run.returncode == 0, run.stdout + run.stderr
    stub = next(p for p in tomllib.loads((out / "pylock.toml").read_text())["packages"] if p["name"] == "mmcv-ext-stub")
    wheel = stub["wheels"][0]
    assert (
        wheel["path"] == "wheels/mmcv_ext_stub-2.1.0-py3-none-any.whl"
        and stub["tool"]["envdoctor"]["built-by-envdoctor"]
    )
    assert hashlib.sha256((out / wheel["path"]).read_bytes()).hexdigest() == wheel["hashes"]["sha256"]
