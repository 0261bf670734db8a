"""envdoctor installs as a tool (`uv tool install .`) and its probes, data and stubs ship in the wheel."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from envdoctor.uv import find_uv

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    find_uv().run(["build", "--wheel", "--out-dir", str(out), str(REPO)], timeout=300)
    (whl,) = out.glob("envdoctor-*.whl")
    return whl


def test_wheel_carries_probes_data_and_stubs(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    assert "envdoctor/_shipped/probes/envdoctor_facts.py" in names
    assert "envdoctor/_shipped/probes/envdoctor_imports.py" in names
    assert "envdoctor/data/breakers.toml" in names and "envdoctor/data/musetalk-v15.toml" in names
    assert "envdoctor/data/smoke-speech.ogg" in names and "envdoctor/tools/ffmpeg.py" in names
    assert any(n.startswith("envdoctor/_shipped/stubs/") for n in names)


def test_uv_tool_install_gives_a_working_envdoctor(wheel, tmp_path):
    env = {**os.environ, "UV_TOOL_DIR": str(tmp_path / "tools"), "UV_TOOL_BIN_DIR": str(tmp_path / "bin")}
    uv = find_uv().binary
    subprocess.run([uv, "tool", "install", "--python", sys.executable, str(wheel)], check=True, env=env,
                   capture_output=True, timeout=300)
    exe = tmp_path / "bin" / "envdoctor"
    out = subprocess.run([str(exe), "--version"], capture_output=True, text=True, check=True)
    assert out.stdout.strip().startswith("envdoctor ")
    # The installed tool finds its probes inside the wheel and treats another interpreter.
    run = subprocess.run([str(exe), "check", "--python", sys.executable, "--only", "system", "--json"],
                         capture_output=True, text=True, cwd=tmp_path)
    doc = json.loads(run.stdout)
    assert doc["facts"]["python"]["executable"]
    assert run.returncode == doc["summary"]["exit_code"]
