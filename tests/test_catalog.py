"""The catalog and the rules are data: every entry is exercised against what the user really sees."""

from __future__ import annotations

import pytest
from envkit import build_env
from packaging.requirements import Requirement

from envdoctor import checkrun
from envdoctor.catalog import breakers
from envdoctor.checks import Status
from envdoctor.checks.base import CheckContext
from envdoctor.checks.packages import rules
from envdoctor.datafiles import load
from envdoctor.explain import explain
from envdoctor.facts import Distribution, Facts
from envdoctor.manifest import builtin
from envdoctor.target import current, resolve

# What users see, as breakers.toml and real runs record it: each must be explained by its own entry.
SYMPTOMS = {
    1: "ModuleNotFoundError: No module named 'mmcv._ext'",
    2: "AssertionError: ball_query_forward miss in module _ext",
    3: "ImportError: /venv/lib/python3.11/site-packages/mmcv/_ext.cpython-311-x86_64-linux-gnu.so: undefined "
    "symbol: _ZN3c105ErrorC2ENS_14SourceLocationESs",
    4: "AssertionError: MMCV==2.2.0 is used but incompatible. Please install mmcv>=2.0.0rc4, <2.1.0.",
    5: "ValueError: numpy.dtype size changed, may indicate binary incompatibility. Expected 96 from C header, "
    "got 88 from PyObject",
    6: "RuntimeError: Numpy is not available",
    7: "opencv-python 4.12.0.88 depends on numpy>=2",
    8: "ModuleNotFoundError: No module named 'pkg_resources'",
    9: "Building chumpy==0.70\n  File \"setup.py\", line 11\nModuleNotFoundError: No module named 'pip'",
    10: "RuntimeError: operator torchvision::nms does not exist",
    11: "_pickle.UnpicklingError: Weights only load failed.",
    12: "ImportError: huggingface-hub>=0.19.3,<1.0 is required for a normal functioning of this module, but found "
    "huggingface-hub==1.0.0.",
    13: "AttributeError: module 'pkgutil' has no attribute 'find_loader'",
    20: "RuntimeError: CUDA error: no kernel image is available for execution on the device",
}


@pytest.mark.parametrize("number", sorted(SYMPTOMS))
def test_each_symptom_is_explained_by_its_own_breaker(number):
    exp = explain(SYMPTOMS[number], {"torch": "2.14.1", "numpy": "2.1.3", "mmcv": "2.2.0"})
    assert exp is not None and exp.breaker == number
    assert "?" not in exp.cause or number in (1, 5, 12)  # these name facts the sample values above lack


def test_the_symptoms_above_name_catalog_entries():
    # every entry's real reports live in tests/explain_corpus/ (tests/test_explain_corpus.py)
    assert set(SYMPTOMS) <= {b.id for b in breakers()}


def _facts(versions: dict[str, str]) -> Facts:
    dists = {Distribution(name, v).key: Distribution(name, v) for name, v in versions.items()}
    return Facts(distributions=dists)


def _satisfying(req: Requirement) -> str:
    """A version inside the requirement's specifier (rules use simple bounds)."""
    for candidate in (
        "0.10.7",
        "0.70",
        "1.0.0",
        "1.14.3",
        "1.26.4",
        "2.0.0",
        "2.1.0",
        "2.2.0",
        "4.11.0.86",
        "4.12.0.88",
        "4.39.2",
        "82.0.0",
        "80.9.0",
    ):
        if req.specifier.contains(candidate, prereleases=True):
            return candidate
    raise AssertionError(f"no sample version for {req}")


@pytest.mark.parametrize("rule", load("rules.toml")["rule"], ids=lambda r: r["id"])
def test_each_rule_fires_exactly_when_all_its_conditions_hold(rule):
    present = {}
    for cond in rule["when"]:
        if not cond.startswith("!"):
            req = Requirement(cond)
            present[req.name] = _satisfying(req)
    ctx = CheckContext(target=current(), facts=_facts(present), manifest=builtin())
    fired = [r for r in rules(ctx) if r.status is Status.FAIL]
    assert [r.details["rule"] for r in fired] == [rule["id"]]
    assert "?" not in fired[0].found
    # take away one installed condition: the rule is quiet
    first = next(iter(present))
    ctx = CheckContext(
        target=current(), facts=_facts({k: v for k, v in present.items() if k != first}), manifest=builtin()
    )
    assert rule["id"] not in [r.details.get("rule") for r in rules(ctx)]


@pytest.mark.network
def test_pypi_torchvision_beside_the_local_cpu_torch_breaker_10():
    """Real: PyPI's torchvision 0.28.0 does not load beside torch 2.13.0+cpu (a different build of 2.13.0)."""
    env = build_env("torch-cpu-pypi-torchvision", ["torchvision==0.28.0"], torch="cpu")
    report = checkrun.run(resolve(venv=str(env)), only=["imports"])
    r = next(r for r in report.results if r.title == "import torchvision")
    assert r.status is Status.FAIL and r.breaker == 10
    assert "torchvision::nms does not exist" in r.found
