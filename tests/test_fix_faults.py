"""Faults during `envdoctor fix`: uv killed mid-install, an unreachable index, a wrong hash.

Each starts from the broken acceptance environment (both mmcv providers, numpy 2, setuptools 82), so
the first step (uninstalling both mmcv providers) has already changed it when the fault hits. After
each, `uv pip freeze` must equal the snapshot taken before, and the message must say what failed.
"""

from __future__ import annotations

import re
import stat
import sys
from pathlib import Path

import pytest
from fixenv import broken_env

from envdoctor import apply as apply_mod
from envdoctor import plan as plan_mod
from envdoctor import target as target_mod
from envdoctor.resources import lockfiles_dir
from envdoctor.uv import Uv, find_uv

# Real environments, built with uv and run: the outer ring, left out of `make test-fast`.
pytestmark = pytest.mark.envs

LOCK = lockfiles_dir() / "lite-stub-modern-py311-cpu-linux.txt"


def _freeze(env: Path) -> list[str]:
    return find_uv().pip_freeze(env / "bin" / "python")


def _killer_on_change(tmp: Path, site: Path, changes: int = 1) -> Uv:
    """A uv whose `pip install` is SIGKILLed once `changes` top-level entries of the site folder have come
    or gone; everything else is plain uv.

    A kill after a fixed delay raced the install: on a warm cache uv finished within 0.5 s. Counting the
    install's own changes puts the kill inside it on any machine. The first change (seen here: setuptools
    82's distutils-precedence.pth removed on its way to the locked version) comes after the uninstall step
    and before the install has finished. The number of changes seen at the kill (or at the end) is
    written beside the script, so a test can say where it struck.
    """
    script = tmp / "uv-killed-on-change"
    script.write_text(
        f"#!{sys.executable}\n"
        "import os, signal, subprocess, sys, time\n"
        f"site, changes = {str(site)!r}, {changes}\n"
        f"uv = subprocess.Popen([{find_uv().binary!r}, *sys.argv[1:]])\n"
        "if sys.argv[1:3] == ['pip', 'install']:\n"
        "    before, seen = set(os.listdir(site)), 0\n"
        "    while uv.poll() is None and seen < changes:\n"
        "        seen = len(set(os.listdir(site)) ^ before)\n"
        "        time.sleep(0.001)\n"
        "    alive = uv.poll() is None\n"
        "    with open(os.path.join(os.path.dirname(sys.argv[0]), 'changes-seen'), 'w') as fh:\n"
        "        fh.write(str(seen if alive else len(set(os.listdir(site)) ^ before)))\n"
        "    if alive:\n"
        "        uv.kill()\n"
        "        uv.wait()\n"
        "        os.kill(os.getpid(), signal.SIGKILL)\n"
        "sys.exit(uv.wait())\n"
    )
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return Uv(str(script))


def _site(env: Path) -> Path:
    (site,) = env.glob("lib/python3.*/site-packages")
    return site


@pytest.mark.network
def test_uv_killed_mid_install_is_rolled_back(tmp_path: Path) -> None:
    with broken_env("killed") as env:
        before = _freeze(env)
        plan = plan_mod.make(target_mod.resolve(venv=str(env)))
        assert [s.kind for s in plan.steps][:2] == ["uninstall", "install-lock"]
        result = apply_mod.apply(plan, uv=_killer_on_change(tmp_path, _site(env)), cache=tmp_path / "cache")
        assert not result.ok and result.rolled_back, result.message
        assert "uv was killed (SIGKILL)" in result.message and "install-lock" in result.message
        assert [o.ok for o in result.outcomes] == [True, False], "the uninstall had happened, the install was cut"
        assert result.restored is True and "restored exactly" in result.message, result.message
        assert _freeze(env) == before == list(result.snapshot)


@pytest.mark.slow
@pytest.mark.parametrize("changes", [2, 5, 10, 20, 40, 80])
def test_uv_killed_at_other_moments_is_rolled_back(tmp_path: Path, changes: int) -> None:
    """The same fault later in the install. Some moments leave a package linked whose RECORD uv has not
    written yet (seen: lazy_importer-0.1.0.dist-info without a RECORD, listed by freeze)."""
    with broken_env(f"killed-{changes}") as env:
        before = _freeze(env)
        plan = plan_mod.make(target_mod.resolve(venv=str(env)))
        uv = _killer_on_change(tmp_path, _site(env), changes)
        result = apply_mod.apply(plan, uv=uv, cache=tmp_path / "cache")
        seen = (tmp_path / "changes-seen").read_text()
        if result.ok:
            pytest.skip(f"the whole install changed {seen} top-level entries, fewer than {changes}: nothing was cut")
        assert result.rolled_back and result.restored is True, f"killed after {seen} changes: {result.message}"
        assert _freeze(env) == before


@pytest.mark.network
def test_unreachable_index_is_rolled_back(cli, tmp_path: Path) -> None:
    with broken_env("noindex") as env:
        before = _freeze(env)
        run = cli("fix", "--venv", str(env), "--yes", "--index-url", "http://127.0.0.1:9/simple")
        assert run.code == 1
        assert "FAILED" in run.out and "`uv pip install` failed" in run.out
        assert "127.0.0.1:9" in run.out, "the message names the index that could not be reached"
        assert "restored exactly to the snapshot" in run.out
        assert _freeze(env) == before


@pytest.mark.network
def test_wrong_hash_is_rolled_back(cli, tmp_path: Path) -> None:
    # The committed lockfile with numpy's hashes replaced: numpy must change in this environment.
    text = LOCK.read_text()
    block = re.search(r"^numpy==1\.26\.4 \\\n(?:    --hash=sha256:[0-9a-f]{64}(?: \\)?\n)+", text, re.M)
    assert block, "numpy 1.26.4 is pinned with hashes"
    bad = re.sub(r"sha256:[0-9a-f]{64}", "sha256:" + "0" * 64, block.group(0))
    lockfile = tmp_path / LOCK.name
    lockfile.write_text(text.replace(block.group(0), bad))
    with broken_env("badhash") as env:
        before = _freeze(env)
        run = cli("fix", "--venv", str(env), "--yes", "--lockfile", str(lockfile))
        assert run.code == 1
        assert "hash" in run.out.lower() and "numpy" in run.out
        assert "restored exactly to the snapshot" in run.out
        assert _freeze(env) == before
