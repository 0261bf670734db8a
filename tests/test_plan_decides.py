"""Every decision `fix` needs is made when the plan is built, and shown in it (`plan` and `fix --dry-run`).

Three places where the plan a user approved and the steps fix ran used to differ: torch's index switched
after the yes when PyTorch's could not be reached, the kept `_ext` stub bundled into the locked install at
run time, and a wheel left in the wheelhouse turning a locked install into a fresh resolve. Each is
decided here from facts written out as the probes report them (the strategies, lockfiles and stubs are
the real ones); that fix then runs exactly these steps is held by tests/planfix.py on real environments.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from strategies.test_verdicts import facts

from envdoctor import plan as plan_mod
from envdoctor.report import plan_text
from envdoctor.sources import install_sources
from envdoctor.steps import Install, InstallLock, InstallTorch, Stub
from envdoctor.strategies import Options
from envdoctor.target import Target

TARGET = Target(Path("/written-out/bin/python"), "--python", "facts written out by the test", "3.11.7",
                "/written-out", True)  # fmt: skip
WITH_TORCHVISION = (("torchvision", "0.28.0+cpu"),)


def _plan(tmp_path: Path, **opts: object) -> plan_mod.Plan:
    options = Options(wheelhouse=tmp_path / "wheelhouse", **opts)  # type: ignore[arg-type]
    return plan_mod.build(TARGET, facts("2.13.0+cpu", installed=WITH_TORCHVISION), options)


def test_the_kept_stub_rides_in_the_locked_install_and_the_plan_says_so(tmp_path: Path) -> None:
    plan = _plan(tmp_path)
    assert plan.chosen == "lite-stub"
    lock, stub = plan.first(InstallLock), plan.first(Stub)
    assert lock is not None and Path(lock.lockfile).name == "lite-stub-modern-py311-cpu-linux.txt"
    assert lock.kept_stub == "2.1.0" and stub is not None and stub.kept == "2.1.0"
    shown = plan.to_dict()["steps"]
    assert {"kind": "install-lock", "kept_stub": "2.1.0"}.items() <= next(
        s for s in shown if s["kind"] == "install-lock"
    ).items()
    assert "with the kept `_ext` stub for mmcv-lite 2.1.0 in the same uv transaction" in plan_text.render(plan)


def test_without_a_current_kept_stub_the_plan_says_it_generates_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(plan_mod, "load_kept", lambda version: None)
    plan = _plan(tmp_path)
    lock, stub = plan.first(InstallLock), plan.first(Stub)
    assert lock is not None and lock.kept_stub is None and "kept_stub" not in lock.to_dict()
    assert stub is not None and stub.kept is None and "generated from the installed mmcv-lite" in stub.summary


def test_a_wheel_left_in_the_wheelhouse_is_a_resolve_the_plan_names_beside_the_pins(tmp_path: Path) -> None:
    locked = _plan(tmp_path)
    assert locked.chosen == "lite-stub" and isinstance(locked.installs, InstallLock)
    house = tmp_path / "wheelhouse"
    house.mkdir()
    (house / "mmcv-2.1.0+pt2.13.0cpu-cp311-cp311-linux_x86_64.whl").write_bytes(b"")
    plan = _plan(tmp_path)
    assert plan.chosen == "prebuilt"
    install = plan.installs
    assert isinstance(install, Install) and install.why == "no lockfile matches"
    assert str(house) in install.find_links
    said = [n for n in plan.notes if "lite-stub would install the pinned set" in n]
    assert said == [
        "this plan resolves with uv now, while lite-stub would install the pinned set of "
        "lite-stub-modern-py311-cpu-linux.txt: `--strategy lite-stub` installs those pins"
    ]
    assert said[0] in plan_text.render(plan)
    # Asked for, the pins are what is installed, the wheel or not.
    pinned = _plan(tmp_path, strategy="lite-stub")
    assert isinstance(pinned.installs, InstallLock) and not any("resolves with uv now" in n for n in pinned.notes)


def test_where_torch_comes_from_is_in_the_plan_before_the_yes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(plan_mod, "unreachable", lambda url: "no route to host" if "pytorch" in url else None)
    no_torch = facts(None)
    plan = plan_mod.build(TARGET, no_torch, Options(wheelhouse=tmp_path))
    torch = plan.first(InstallTorch)
    assert torch is not None and torch.fallback and "no route to host" in torch.fallback
    assert torch.indexes is not None and torch.indexes.index_url == "https://pypi.org/simple"
    assert plan.to_dict()["steps"][0]["indexes"] == {"index_url": "https://pypi.org/simple"}
    assert plan.to_dict()["sources"] == {"indexes": {}, "torch": None}
    # A mirror named with --index-url is where it comes from, and the plan's sources say so.
    mirror = plan_mod.build(TARGET, no_torch, Options(wheelhouse=tmp_path), install_sources("https://m.example/s"))
    step = mirror.first(InstallTorch)
    assert step is not None and step.indexes is not None and step.indexes.index_url == "https://m.example/s"
    assert mirror.to_dict()["sources"]["indexes"] == {"index_url": "https://m.example/s"}
    # The PyTorch index answering: uv's --torch-backend auto, said as such.
    monkeypatch.setattr(plan_mod, "unreachable", lambda url: None)
    auto = plan_mod.build(TARGET, no_torch, Options(wheelhouse=tmp_path)).first(InstallTorch)
    assert auto is not None and auto.indexes is None and auto.fallback is None and "torch-backend" in auto.source
