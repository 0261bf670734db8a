"""envdoctor installs as a tool (`uv tool install .`) and its probes, data and stubs ship in the wheel."""

from __future__ import annotations

import configparser
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from envkit import run_inside

from envdoctor.uv import find_uv

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    find_uv().run(["build", "--wheel", "--out-dir", str(out), str(REPO)], timeout=300)
    (whl,) = out.glob("envdoctor-*.whl")
    return whl


# Run by the installed tool's own interpreter: where it finds what runs inside a target, and the port's wheel
# built from there.
_SHIPPED = r"""
import json, sys, tempfile, zipfile
from envdoctor import dwpose
from envdoctor.resources import probe_script, smoke_script
with tempfile.TemporaryDirectory() as tmp:
    names = zipfile.ZipFile(dwpose.build_wheel(tmp)).namelist()
print(json.dumps({"facts": str(probe_script("envdoctor_facts")), "deps": str(smoke_script("deps_pass")),
                  "synth": str(smoke_script("synth_weights")), "port": str(dwpose.PAYLOAD), "port_wheel": names}))
"""


@pytest.mark.network
def test_wheel_carries_probes_data_and_stubs(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    inside = sorted(
        p.relative_to(REPO / "probes").as_posix()
        for p in (REPO / "probes").rglob("*.py")
        if "__pycache__" not in p.parts
    )
    assert {"envdoctor_facts.py", "smoke/deps_pass.py", "mmpose_free/mmpose/apis/__init__.py"} <= set(inside)
    missing = [rel for rel in inside if f"envdoctor/_shipped/probes/{rel}" not in names]
    assert not missing, missing
    assert "envdoctor/data/breakers.toml" in names and "envdoctor/data/musetalk-v15.toml" in names
    assert "envdoctor/data/smoke-speech.ogg" in names and "envdoctor/tools/ffmpeg.py" in names
    assert any(n.startswith("envdoctor/_shipped/stubs/") for n in names)


@pytest.mark.network
def test_wheel_installs_the_user_and_the_maintainer_scripts(wheel):
    with zipfile.ZipFile(wheel) as zf:
        (name,) = [n for n in zf.namelist() if n.endswith(".dist-info/entry_points.txt")]
        points = configparser.ConfigParser()
        points.optionxform = str  # script names keep their case
        points.read_string(zf.read(name).decode())
    assert dict(points["console_scripts"]) == {
        "envdoctor": "envdoctor.cli:main",
        "envdoctor-maint": "envdoctor.maint:main",
    }


@pytest.mark.network
def test_uv_tool_install_gives_a_working_envdoctor(wheel, tmp_path):
    env = {**os.environ, "UV_TOOL_DIR": str(tmp_path / "tools"), "UV_TOOL_BIN_DIR": str(tmp_path / "bin")}
    uv = find_uv().binary
    subprocess.run(
        [uv, "tool", "install", "--python", sys.executable, str(wheel)],
        check=True,
        env=env,
        capture_output=True,
        timeout=300,
    )
    exe = tmp_path / "bin" / "envdoctor"
    out = subprocess.run([str(exe), "--version"], capture_output=True, text=True, check=True)
    assert out.stdout.strip().startswith("envdoctor ")
    # The installed tool finds its probes inside the wheel and treats another interpreter.
    run = subprocess.run(
        [str(exe), "check", "--python", sys.executable, "--only", "system", "--json"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    doc = json.loads(run.stdout)
    assert doc["facts"]["python"]["executable"]
    assert run.returncode == doc["summary"]["exit_code"]
    # The maintainer's writes never land in the installed package; the user's CLI has no matrix `lock`.
    maint = tmp_path / "bin" / "envdoctor-maint"
    # Without PYTHONPATH: a checkout on it would be what the script imports, and that one may write.
    own = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    for args in (["lock", "--strategy", "lite-stub"], ["stubs"]):
        refused = subprocess.run(
            [str(maint), *args], capture_output=True, text=True, cwd=tmp_path, timeout=120, env=own
        )
        assert refused.returncode == 2 and "installed" in refused.stderr, (args, refused.stderr)
    gone = subprocess.run(
        [str(exe), "lock", "--table", "README.md"], capture_output=True, text=True, cwd=tmp_path, env=own
    )
    assert gone.returncode == 2 and "unrecognized arguments: --table" in gone.stderr, gone.stderr
    # Everything that runs inside a target is found inside the installed wheel, not in this checkout.
    tool_python = tmp_path / "tools" / "envdoctor" / "bin" / "python"
    # -I: the tool's own site-packages only, whatever PYTHONPATH the tests run with.
    found = run_inside(tool_python, ["-I", "-c", _SHIPPED], what="the installed tool's resources", cwd=tmp_path)
    for key in ("facts", "deps", "synth", "port"):
        path = Path(found[key])
        assert path.exists() and "_shipped" in path.parts and REPO not in path.parents, (key, path)
    assert "mmpose/apis/__init__.py" in found["port_wheel"]
    assert "mmpose/_envdoctor_mmpose_free.py" in found["port_wheel"]
