"""Import probing in a real environment: crashes, hangs and exits are reported, the rest still probed."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from envdoctor.probe import ImportProber
from envdoctor.target import resolve
from envdoctor.uv import find_uv

# Real environments, built with uv and run: the outer ring, left out of `make test-fast`.
pytestmark = pytest.mark.envs

MODULES = {
    "ok_before.py": "VALUE = 1\n",
    "segv_mod.py": "import ctypes\nctypes.string_at(0)\n",
    "hang_mod.py": "import time\nwhile True:\n    time.sleep(1)\n",
    "abort_mod.py": "import os\nos.abort()\n",
    "exit_mod.py": "import sys\nsys.exit('refusing to be imported')\n",
    "noisy_mod.py": "print('{\"event\": \"end\"}')\nprint('x' * 100000)\n",
    "ok_after.py": "VALUE = 2\n",
}


@pytest.fixture(scope="module")
def crashy_env(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A venv with a real distribution whose modules segfault, hang, abort, exit or print on import."""
    base = tmp_path_factory.mktemp("crashy")
    project = base / "project"
    (project / "src").mkdir(parents=True)
    for name, text in MODULES.items():
        (project / name).write_text(text)
    (project / "setup.py").write_text(
        "from setuptools import setup\n"
        f"setup(name='envdoctor-crashy', version='1.0', py_modules={[n[:-3] for n in MODULES]!r})\n"
    )
    venv = base / "venv"
    uv = find_uv()
    uv.venv(venv, python=sys.executable)
    uv.pip_install(venv / "bin" / "python", [str(project)])
    return venv


@pytest.mark.network
def test_crashes_and_hangs_are_reported_and_the_rest_probed(crashy_env):
    target = resolve(venv=str(crashy_env))
    order = ["ok_before", "segv_mod", "hang_mod", "abort_mod", "exit_mod", "noisy_mod", "json", "ok_after", "nope"]
    results = {r.module: r for r in ImportProber(target, timeout=3).run(order)}
    assert list(results) == order
    assert results["ok_before"].status == "ok"
    assert results["segv_mod"].status == "crash" and "SIGSEGV" in results["segv_mod"].message
    # faulthandler's dump names the module that crashed
    assert "segv_mod" in (results["segv_mod"].traceback or "")
    assert results["hang_mod"].status == "timeout"
    assert results["abort_mod"].status == "crash" and "SIGABRT" in results["abort_mod"].message
    assert results["exit_mod"].status == "exit" and "refusing" in results["exit_mod"].message
    # printing (even something that looks like an event) cannot corrupt the probe's own stream
    assert results["noisy_mod"].status == "ok"
    assert results["json"].status == "ok"
    assert results["ok_after"].status == "ok"
    assert results["nope"].status == "missing" and results["nope"].missing_module == "nope"
    assert all(r.seconds is not None for r in results.values())


@pytest.mark.network
def test_check_reports_crash_and_hang_through_the_cli(cli, crashy_env, tmp_path):
    app = tmp_path / "app"
    (app / "scripts").mkdir(parents=True)
    code = "import ok_before\nimport segv_mod\nimport hang_mod\nimport exit_mod\nimport ok_after\n"
    (app / "scripts" / "inference.py").write_text(code)
    run = cli(
        "check", "--venv", str(crashy_env), "--app", str(app), "--only", "imports", "--import-timeout", "3", "--json"
    )
    assert run.code == 1
    doc = run.json()
    by_title = {r["title"]: r for r in doc["results"]}
    assert by_title["import segv_mod"]["status"] in ("fail", "warn")
    assert by_title["import segv_mod"]["details"]["status"] == "crash"
    assert by_title["import hang_mod"]["details"]["status"] == "timeout"
    assert by_title["import ok_before"]["status"] == "ok"
    assert by_title["import ok_after"]["status"] == "ok"
    # `envdoctor fix` keeps a distribution already at its pin: the fix is the reinstall of the one that provides it
    for module in ("segv_mod", "hang_mod", "exit_mod"):
        assert by_title[f"import {module}"]["fix"].startswith('uv pip install --reinstall "envdoctor-crashy==1.0"')


def test_every_field_the_facts_probe_writes_has_a_shape() -> None:
    """The section classes in envdoctor/facts.py read only the keys they name: a field a probe adds
    without one would vanish at the boundary (as ffmpeg's `source` once did), so the probe's real
    output is walked here."""
    import sys

    from envdoctor.facts import SECTIONS
    from envdoctor.facts import shape as keys_of
    from envdoctor.inside import run_json
    from envdoctor.resources import probe_script

    doc = run_json(sys.executable, [str(probe_script("envdoctor_facts"))], what="the facts probe").data
    unshaped: list[str] = []

    def walk(value: object, shape: object, path: str) -> None:
        if isinstance(shape, dict) and isinstance(value, dict):
            for key, sub in value.items():
                if key not in shape:
                    unshaped.append(f"{path}.{key}")
                else:
                    walk(sub, shape[key], f"{path}.{key}")
        elif isinstance(shape, list) and isinstance(value, list):
            for item in value:
                walk(item, shape[0], f"{path}[]")

    # ffmpeg is found from outside (envdoctor.tools.ffmpeg); torch comes from the imports probe.
    assert {"python", "platform", "gpu", "nvcc", "mmcv"} <= set(doc)
    for section, cls in SECTIONS.items():
        if section in doc:
            walk(doc[section], keys_of(cls), section)
    assert not unshaped, f"probe fields without a shape in envdoctor/facts.py: {unshaped}"
