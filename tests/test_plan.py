"""`envdoctor plan` on real environments of this machine: every rejected strategy is explained."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
from fixenv import cpu_torch_env

from envdoctor import plan as plan_mod
from envdoctor import target as target_mod
from envdoctor.steps import InstallLock
from envdoctor.strategies import CHOSEN, REJECTED

# Real environments, built with uv and run: the outer ring, left out of `make test-fast`.
pytestmark = pytest.mark.envs


@pytest.mark.network
def test_plan_on_this_machine_explains_every_rejected_strategy(cli, monkeypatch: pytest.MonkeyPatch) -> None:
    # The verdicts are under test here; whether PyTorch's index answers from this machine is judged in
    # test_fix_judged.py (a plan needing an index that does not answer is refused).
    monkeypatch.setattr(plan_mod, "unreachable", lambda url: None)
    env = cpu_torch_env()
    p = plan_mod.make(target_mod.resolve(venv=str(env)))
    assert p.context.torch is not None and str(p.context.torch) == "2.13.0+cpu"
    assert p.context.accelerator == "cpu"
    assert p.chosen == "lite-stub"
    for v in p.verdicts:
        assert v.reasons, f"{v.strategy} has no reason"
        if v.status == REJECTED:
            assert all(len(r) > 20 for r in v.reasons)
    pre = next(v for v in p.verdicts if v.strategy == "prebuilt")
    assert pre.status == REJECTED and "no mmcv wheel for torch 2.13" in pre.reasons[0]
    # torchvision is absent here: the plan installs the release made for this torch, from its index, first.
    assert any("torchvision is not installed" in n for n in p.notes)
    install = p.installs
    assert isinstance(install, InstallLock) and install.lockfile
    assert install.lockfile.endswith("lite-stub-modern-py311-cpu-linux.txt")

    text = cli("plan", "--venv", str(env))
    assert text.code == 0
    assert "[✗] prebuilt (rejected)" in text.out and "[✓] lite-stub (chosen)" in text.out
    js = cli("plan", "--venv", str(env), "--json").json()
    assert js["chosen"] == "lite-stub" and (js["schema"], js["schema_version"]) == ("envdoctor.plan", 2)
    assert next(s["status"] for s in js["strategies"]) == CHOSEN
    assert js["steps"][-1]["kind"] == "verify"
    # fix --dry-run is the same plan, and changes nothing.
    dry = cli("fix", "--venv", str(env), "--dry-run", "--json").json()
    assert dry["steps"] == js["steps"]


def _externally_managed_python(tmp_path: Path) -> Path:
    """A system interpreter marked by PEP 668, built from the one running the tests: a copy of its
    executable beside its standard library (linked entry by entry) and an EXTERNALLY-MANAGED file, so no
    test depends on the machine's own /usr/bin/python3 being a Debian one."""
    if os.name != "posix":
        pytest.skip("the stand-in system interpreter is built the POSIX way (bin/ and lib/pythonX.Y)")
    base = Path(getattr(sys, "_base_executable", "") or sys.executable)
    stdlib = Path(sysconfig.get_path("stdlib", vars={"installed_base": sys.base_prefix, "base": sys.base_prefix}))
    root = tmp_path / "system"
    lib = root / "lib" / stdlib.name
    lib.mkdir(parents=True)
    (root / "bin").mkdir()
    exe = root / "bin" / "python3"
    shutil.copy2(base, exe)
    for entry in stdlib.iterdir():
        (lib / entry.name).symlink_to(entry)
    (lib / "EXTERNALLY-MANAGED").write_text("[externally-managed]\nError=a stand-in marked by the tests\n")
    ran = subprocess.run([str(exe), "-c", "import sys; print(sys.prefix)"], capture_output=True, text=True)
    if ran.returncode != 0 or Path(ran.stdout.strip()) != root:
        pytest.skip(f"a copied interpreter does not run from its own prefix here: {ran.stderr.strip()[-200:]}")
    return exe


def test_externally_managed_interpreter_is_refused_with_advice(cli, tmp_path: Path) -> None:
    system = _externally_managed_python(tmp_path)
    p = plan_mod.make(target_mod.resolve(python=str(system)))
    assert p.context.externally_managed
    assert p.refusal and "PEP 668" in p.refusal and "--venv .venv --create" in p.refusal
    run = cli("fix", "--python", str(system), "--yes")
    assert run.code == 1 and "externally managed" in run.out


@pytest.mark.network
def test_forcing_a_strategy_keeps_the_others_explained() -> None:
    p = plan_mod.make(target_mod.resolve(venv=str(cpu_torch_env())), plan_mod.Options(strategy="mmpose-free"))
    assert p.chosen == "mmpose-free"
    lite = next(v for v in p.verdicts if v.strategy == "lite-stub")
    assert any("--strategy mmpose-free was asked for" in r for r in lite.reasons)
    # (fix provides ffmpeg just before the verifying check on a machine without one)
    assert [s.kind for s in p.steps if s.kind != "provide-ffmpeg"][-2:] == ["dwpose", "verify"]
