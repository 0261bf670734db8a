"""Typed facts: read once from the probes' JSON, one default for what is missing, the same JSON out.

Checks, strategies and the stub read the same Facts; these tests feed them what a broken or hostile
target can send and assert that each reader sees the same default and that the problem is named.
"""

from __future__ import annotations

import json
import sys
from dataclasses import fields
from pathlib import Path
from typing import Any

import pytest

from envdoctor.checks import Status
from envdoctor.checks.base import CheckContext
from envdoctor.checks.gpu import driver
from envdoctor.checks.packages import mmcv_ext
from envdoctor.checks.tools import ffmpeg as ffmpeg_check
from envdoctor.explain import versions as explain_values
from envdoctor.facts import (
    SECTIONS,
    Distribution,
    Facts,
    Ffmpeg,
    Gpu,
    GpuDevice,
    HostPlatform,
    Mmcv,
    MmcvExt,
    Python,
    Torch,
    TorchDevice,
)
from envdoctor.inside import run_json
from envdoctor.manifest import builtin
from envdoctor.plan import build
from envdoctor.probe import facts_from_raw
from envdoctor.resources import probe_script
from envdoctor.strategies import Context as StrategyContext
from envdoctor.stub import state_from_facts, why_not_install
from envdoctor.target import current
from envdoctor.tools import ffmpeg as ffmpeg_tool


@pytest.fixture(scope="module")
def probed() -> dict[str, Any]:
    """The facts of the interpreter running the tests as gather assembles them: the facts probe's real
    document, and the ffmpeg section found from outside (envdoctor.tools.ffmpeg)."""
    doc: dict[str, Any] = run_json(sys.executable, [str(probe_script("envdoctor_facts"))], what="the facts probe").data
    doc["ffmpeg"] = ffmpeg_tool.target_facts(Path(sys.executable))
    return doc


@pytest.mark.parametrize("name", sorted(SECTIONS))
def test_every_missing_fact_has_the_one_default(name: str) -> None:
    """A section the probe did not send is its class with every scalar None and every list empty."""
    section = facts_from_raw({}, [], None)
    value = getattr(section, name)
    if name == "torch":
        assert value is None  # torch not imported: no Torch at all, for checks and strategies alike
        value = Torch()
    for f in fields(value):
        got = getattr(value, f.name)
        if isinstance(got, MmcvExt):
            assert all(getattr(got, g.name) in (None, ()) for g in fields(got)), got
        else:
            assert got in (None, ()), f"{name}.{f.name} defaults to {got!r}"
    assert facts_from_raw({}, [], None).probe_errors == ()


def test_wrong_types_become_the_default_and_are_named() -> None:
    raw = {
        "python": {"version": 311, "cp_tag": "cp311", "is_venv": "yes", "site_packages": "/x"},
        "platform": ["Linux"],
        "gpu": {
            "driver_version": "550.54",
            "gpus": [
                {"name": "A100", "compute_capability": "8.0", "source": "nvidia-smi"},
                {"name": "half a row", "compute_capability": 8.6},
            ],
        },
        "nvcc": {"path": None, "version": None},
        "ffmpeg": {"path": "/usr/bin/ffmpeg", "libx264": "true"},
        "mmcv": {
            "version": "2.1.0",
            "ext": {"state": "stub", "files": "_ext.py", "stub": {"mmcv": "2.1.0", "real": 3}},
        },
    }
    torch = {"version": "2.1.0+cu121", "cuda": 12.1, "cudnn": True, "devices": [{"name": "A100"}]}
    facts = facts_from_raw(raw, [], torch)

    assert facts.python.version is None and facts.python.cp_tag == "cp311"
    assert facts.python.is_venv is None and facts.python.site_packages == ()
    assert facts.platform.system is None
    assert facts.gpu.gpus == (GpuDevice("A100", "8.0", "nvidia-smi"),)
    assert facts.ffmpeg.path == "/usr/bin/ffmpeg" and facts.ffmpeg.libx264 is None and not facts.ffmpeg.usable
    assert facts.mmcv.ext.state == "stub" and facts.mmcv.ext.files == ()
    assert facts.mmcv.ext.stub == {"mmcv": "2.1.0"}  # the pair that is not str -> str is dropped
    assert facts.torch == Torch(version="2.1.0+cu121")
    assert list(facts.probe_errors) == [
        "python: left out version, is_venv, site_packages (not of the expected type)",
        "platform: the probe sent a list, not an object",
        "gpu: left out 1 of 2 items of gpus (not of the expected type)",
        "ffmpeg: left out libx264 (not of the expected type)",
        "mmcv: left out ext.files (not of the expected type)",
        "torch: left out cuda, cudnn, 1 of 1 items of devices (not of the expected type)",
    ]


def test_a_section_the_probe_could_not_read_is_named_once() -> None:
    facts = facts_from_raw({"mmcv": {"error": "PermissionError: mmcv"}}, [], "2.1.0")  # type: ignore[arg-type]  # what a target may send
    assert facts.mmcv == Mmcv()
    assert facts.torch is None
    assert list(facts.probe_errors) == [
        "mmcv: PermissionError: mmcv",
        "torch: the probe sent a str, not an object",
    ]


def test_to_dict_keeps_every_key_and_value_the_probe_sent(probed: dict[str, Any]) -> None:
    """`check --json` prints Facts.to_dict(): within its schema fields are only added, never changed."""
    torch = {
        "version": "2.1.0+cu121",
        "cuda": "12.1",
        "hip": None,
        "cudnn": 8902,
        "cuda_available": True,
        "arch_list": ["sm_80"],
        "devices": [{"name": "A100", "capability": "8.0"}],
        "cxx11_abi": True,
    }
    facts = facts_from_raw(probed, [], torch)
    out = json.loads(json.dumps(facts.to_dict()))
    for name in ("python", "platform", "gpu", "nvcc", "ffmpeg", "mmcv"):
        _holds(out[name], probed[name], name)
    assert out["torch"] == torch
    assert set(out) == {
        "python",
        "platform",
        "distributions",
        "gpu",
        "nvcc",
        "ffmpeg",
        "mmcv",
        "imports",
        "torch",
        "probe_errors",
        "damaged",
    }
    row = next(r for r in probed["distributions"] if not r.get("damaged"))
    for key in ("name", "version", "top_level", "installer", "location", "requires"):
        assert out["distributions"][row["key"]][key] == row[key]
    assert out["probe_errors"] == [] and out["imports"] == []


def _holds(out: Any, sent: Any, where: str) -> None:
    """Every key the probe sent is in `out` with the same value (a key the probe leaves out when it does
    not apply, such as mmcv.ext.stub for compiled ops, is there as null)."""
    if isinstance(sent, dict):
        assert isinstance(out, dict), where
        for key, value in sent.items():
            assert key in out, f"{where}.{key}"
            _holds(out[key], value, f"{where}.{key}")
    else:
        assert out == sent, where


@pytest.mark.parametrize(
    ("ffmpeg", "usable", "status"),
    [
        (Ffmpeg(path="/bin/ffmpeg", libx264=True, aac=True, version="7.0"), True, Status.OK),
        (Ffmpeg(path="/bin/ffmpeg", libx264=False, aac=True, version="7.0"), False, Status.FAIL),
        (Ffmpeg(path="/bin/ffmpeg", libx264=True, aac=False, version="7.0"), False, Status.FAIL),
        (Ffmpeg(path="/bin/ffmpeg", libx264=True, version="7.0"), False, Status.FAIL),
        (Ffmpeg(), False, Status.FAIL),
    ],
    ids=["libx264-aac", "no-libx264", "no-aac", "aac-unknown", "none"],
)
def test_the_usable_ffmpeg_is_one_fact_for_the_check_and_the_plan(ffmpeg: Ffmpeg, usable: bool, status: Status) -> None:
    facts = Facts(
        python=Python(version="3.11.7", cp_tag="cp311"),
        platform=HostPlatform(system="Linux", machine="x86_64"),
        ffmpeg=ffmpeg,
    )
    assert ffmpeg.usable is usable
    (r,) = list(ffmpeg_check(CheckContext(target=current(), facts=facts, manifest=builtin())))
    assert r.status is status
    plan = build(current(), facts)
    assert plan.chosen is not None
    assert any(s.kind == "provide-ffmpeg" for s in plan.steps) is not usable


def test_gpus_torch_sees_count_for_the_checks_and_the_strategies_alike() -> None:
    """Without a driver listing (no nvidia-smi), the GPUs torch sees are the visible ones for both."""
    torch = Torch(version="2.4.0+cu121", cuda="12.1", cuda_available=True, devices=(TorchDevice("RTX 3090", "8.6"),))
    facts = Facts(torch=torch, distributions={"torch": Distribution("torch", "2.4.0+cu121")})
    assert facts.visible_gpus == (GpuDevice("RTX 3090", "8.6", "torch"),)
    assert StrategyContext.from_facts(facts).gpus == (("RTX 3090", "8.6"),)
    (r,) = list(driver(CheckContext(target=current(), facts=facts, manifest=builtin())))
    assert "RTX 3090 (sm 8.6)" in r.found
    listed = Facts(torch=torch, gpu=Gpu(gpus=(GpuDevice("A100", "8.0", "nvidia-smi"),)))
    assert StrategyContext.from_facts(listed).gpus == (("A100", "8.0"),)


def test_unknown_mmcv_reads_the_same_in_the_check_the_strategy_and_the_stub() -> None:
    facts = facts_from_raw({"mmcv": {"error": "OSError: boom"}, "python": {"executable": "/env/bin/python"}}, [], None)
    (r,) = list(mmcv_ext(CheckContext(target=current(), facts=facts, manifest=builtin())))
    assert r.status is Status.SKIP and "could not read mmcv" in r.found
    assert StrategyContext.from_facts(facts).ext_state is None
    state = state_from_facts(facts)
    assert state.ext_state is None and state.python == "/env/bin/python"
    assert "could not be found" in (why_not_install(state) or "")


def test_stub_state_comes_from_the_typed_facts() -> None:
    dists = {
        d.key: d
        for d in (
            Distribution("mmcv-lite", "2.1.0", top_level=("mmcv",)),
            Distribution("mmcv-ext-stub", "2.1.0.post1", top_level=("mmcv",)),
        )
    }
    header = {"mmcv": "2.0.1", "real": "4", "raising": "120"}
    facts = Facts(
        distributions=dists,
        mmcv=Mmcv(
            package_dir="/env/site-packages/mmcv",
            version="2.1.0",
            ext=MmcvExt(state="stub", files=("_ext.py",), stub=header),
        ),
    )
    state = state_from_facts(facts, "/env/bin/python")
    assert (state.provider, state.stub_dist_version, state.ext_state) == ("mmcv-lite", "2.1.0.post1", "stub")
    assert (state.real, state.raising, state.stale) == (4, 120, True)  # made for 2.0.1, 2.1.0 installed
    assert str(state.ext_path) == "/env/site-packages/mmcv/_ext.py"
    check_values = CheckContext(target=current(), facts=facts, manifest=builtin()).versions()
    assert check_values["mmcv"] == "2.1.0"
    # the stub adds mmcv/_ext.py only: it provides mmcv for neither the checks nor explain
    assert check_values["mmcv_provider"] == explain_values(facts)["mmcv_provider"] == "mmcv-lite 2.1.0"
