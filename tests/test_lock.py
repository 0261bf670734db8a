"""`envdoctor lock`: the committed lockfiles match their inputs, a changed input is caught, and a
lockfile made here resolves the way the committed ones did."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from envdoctor import lock
from envdoctor.resources import lockfiles_dir
from envdoctor.strategies.common import HELD
from envdoctor.uv import find_uv, write_config


def test_committed_lockfiles_match_their_inputs(cli) -> None:
    results = lock.check()
    assert len(results) == len(lock.committed_targets())
    assert all(r.ok for r in results), [r.message for r in results if not r.ok]
    run = cli("lock", "--check")
    assert run.code == 0 and "10/10 lockfiles match" in run.out


def test_check_fails_when_an_input_changes() -> None:
    def changed(t: lock.LockTarget) -> lock.LockInputs:
        now = lock.inputs_for(t)
        return replace(now, constraints=(*now.constraints, "scipy<1.15"))

    results = lock.check(inputs_of=changed)
    assert results and not any(r.ok for r in results)
    assert all("constraints" in r.message and "stale" in r.message for r in results)


def test_check_cli_fails_on_a_lockfile_from_other_inputs(cli, tmp_path: Path) -> None:
    # A real lockfile, made from an older requirement set (mmpose 1.3.1): today's inputs differ.
    t = lock.LockTarget.parse("lite-stub-modern-py311-cpu-linux")
    now = lock.inputs_for(t)
    older = replace(now, requirements=tuple(r.replace("mmpose==1.3.2", "mmpose==1.3.1") for r in now.requirements))
    lock.make(t, tmp_path, inputs=older)
    assert "mmpose==1.3.1" in set(lock.pins(lock.paths(t, tmp_path)[0]))
    run = cli("lock", "--check", "--output-dir", str(tmp_path))
    assert run.code == 1 and "STALE" in run.out and "requirements" in run.out
    # And a header edited by hand is caught too.
    txt = lock.paths(t, tmp_path)[0]
    txt.write_text(txt.read_text().replace("mmpose==1.3.1", "mmpose==1.3.2", 1))
    again = cli("lock", "--check", "--output-dir", str(tmp_path))
    assert again.code == 1 and "edited" in again.out


def test_lockfiles_hold_no_torch_and_name_their_inputs() -> None:
    for t in lock.committed_targets():
        txt, pylock = lock.paths(t, lockfiles_dir())
        names = {p.split("==")[0] for p in lock.pins(txt)}
        assert not names & set(HELD) and "chumpy" not in names
        assert {"mmpose", "mmcv-lite"} <= names if t.strategy == "lite-stub" else "mmpose" not in names
        head = lock.read_header(txt)
        assert head["name"] == t.name and head["sha256"] == lock.inputs_for(t).digest()
        assert "download.pytorch.org/whl/cpu" in txt.read_text().split("\n", 4)[2]
        assert 'lock-version = "1.0"' in pylock.read_text()
        assert lock.LockTarget.parse(t.name) == t


def test_a_fresh_lock_reproduces_the_committed_pins(tmp_path: Path) -> None:
    t = lock.LockTarget.parse("lite-stub-modern-py311-cpu-linux")
    made = lock.make(t, tmp_path)
    committed = lock.paths(t, lockfiles_dir())[0]
    assert list(lock.pins(made.requirements_txt)) == list(lock.pins(committed))
    assert made.requirements_txt.read_text() == committed.read_text(), "exclude-newer makes it byte-identical"
    assert all(r.ok for r in lock.check(tmp_path))


def _python312() -> str | None:
    from envkit import find_python

    return find_python("3.12")


def test_python_3_12_lockfile_installs_with_its_source_build(tmp_path: Path) -> None:
    """xtcocotools has no cp312 wheel: the lockfile's extra-build input lets uv build it (breaker 14)."""
    py312 = _python312()
    if py312 is None:
        from envkit import PYTHONS_HINT

        pytest.skip(f"no Python 3.12 interpreter found: {PYTHONS_HINT}")
    t = lock.LockTarget.parse("lite-stub-modern-py312-cpu-linux")
    inputs = lock.inputs_for(t)
    assert inputs.extra_build == (("xtcocotools", ("numpy<2", "cython")),)
    uv = find_uv()
    venv = tmp_path / "v312"
    uv.venv(venv, python=py312)
    txt = lock.paths(t, lockfiles_dir())[0]
    config = write_config(tmp_path, inputs.extra_build)
    uv.pip_install(venv / "bin" / "python", requirement_files=[txt], extra=["--no-deps", "--config-file", str(config)])
    names = {ln.split("==")[0] for ln in uv.pip_freeze(venv / "bin" / "python")}
    assert {"xtcocotools", "mmpose", "mmcv-lite", "numpy"} <= names
