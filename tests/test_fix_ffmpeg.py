"""fix provides ffmpeg without root: a planned step, applied with the rest, undone by a rollback."""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

import pytest

from envdoctor import apply as apply_mod
from envdoctor import plan as plan_mod
from envdoctor import probe
from envdoctor.apply.verification import Verifier
from envdoctor.facts import Ffmpeg
from envdoctor.steps import Verify
from envdoctor.target import Target, resolve
from envdoctor.tools import ffmpeg as ff
from envdoctor.uv import find_uv


@pytest.fixture
def venv(tmp_path: Path) -> Path:
    folder = tmp_path / "venv"
    find_uv().venv(folder, python=sys.executable)
    return folder


def _verifier(ok: bool) -> Verifier:
    def verify(target: Target, plan: plan_mod.Plan) -> apply_mod.FixVerification:
        failures = () if ok else ("imports: the test's verification fails on purpose",)
        return apply_mod.FixVerification(0 if ok else 1, "test", failures, () if ok else ("imports",))

    return verify


def _apply(venv: Path, tmp_path: Path, *, ok: bool) -> apply_mod.ApplyResult:
    target = resolve(venv=str(venv))
    plan = plan_mod.make(target)
    step = next(s for s in plan.steps if s.kind == "provide-ffmpeg")
    plan = replace(plan, steps=(step, Verify(summary="test")), chosen="test", refusal=None)
    return apply_mod.apply(plan, progress=lambda m: None, verifier=_verifier(ok), cache=tmp_path / "cache")


def _names(venv: Path) -> set[str]:
    freeze = find_uv().run(["pip", "freeze", "--python", str(venv / "bin" / "python")], check=True).stdout
    return {line.split("==")[0].lower() for line in freeze.splitlines() if line.strip()}


@pytest.mark.skipif(sys.platform == "win32", reason="the test venv layout is POSIX (bin/)")
def test_plan_provides_ffmpeg_only_when_musetalk_would_find_none(venv: Path, bare_path: str) -> None:
    target = resolve(venv=str(venv))
    plan = plan_mod.build(target, probe.gather(target, []))
    if plan.chosen is None:
        pytest.skip(f"no strategy for this interpreter: {plan.to_dict()['verdicts']}")
    kinds = [s.kind for s in plan.steps]
    assert "provide-ffmpeg" in kinds and kinds.index("provide-ffmpeg") == kinds.index("verify") - 1

    with_ffmpeg = replace(probe.gather(target, []), ffmpeg=Ffmpeg(path="/x/ffmpeg", libx264=True, aac=True))
    assert "provide-ffmpeg" not in [s.kind for s in plan_mod.build(target, with_ffmpeg).steps]


@pytest.mark.network
@pytest.mark.skipif(sys.platform == "win32", reason="the test venv layout is POSIX (bin/)")
def test_fix_links_ffmpeg_and_keeps_it(venv: Path, bare_path: str, tmp_path: Path) -> None:
    result = _apply(venv, tmp_path, ok=True)
    assert result.ok, result.message
    assert any("linked into the environment" in o.message for o in result.outcomes)
    link = venv / "bin" / "ffmpeg"
    assert link.is_symlink() and ff.inspect(link).usable
    assert ff.WHEEL in _names(venv)


@pytest.mark.network
@pytest.mark.skipif(sys.platform == "win32", reason="the test venv layout is POSIX (bin/)")
def test_a_rollback_takes_the_ffmpeg_link_and_wheel_away(venv: Path, bare_path: str, tmp_path: Path) -> None:
    before_bin = sorted(p.name for p in (venv / "bin").iterdir())
    before = _names(venv)
    result = _apply(venv, tmp_path, ok=False)
    assert not result.ok and result.rolled_back and result.restored, result.message
    assert sorted(p.name for p in (venv / "bin").iterdir()) == before_bin
    assert _names(venv) == before
    assert "removed ffmpeg from the environment's bin" in result.message


@pytest.mark.network
def test_a_failed_step_carries_the_explanation_explain_gives(tmp_path: Path) -> None:
    """fix answers a failed uv step through the same explainer as `envdoctor explain` (a real uv failure)."""
    from envdoctor.apply.transaction import explained
    from envdoctor.explain import explain_text
    from envdoctor.uv import UvError

    uv = find_uv()
    folder = tmp_path / "chumpy-venv"
    uv.venv(folder, python=sys.executable)
    with pytest.raises(UvError) as failed:
        # chumpy's setup.py imports pip: an isolated build has none (a real report, breaker #9).
        uv.pip_install(resolve(venv=str(folder)).python, ["chumpy==0.70"])
    root = explain_text(failed.value.stderr).root
    assert root is not None and root.key.startswith("chumpy")
    assert explained(failed.value, {}) == f" Cause: {root.cause} Fix: {root.fix}"
    assert explained(RuntimeError("something nobody has seen"), {}) == ""
