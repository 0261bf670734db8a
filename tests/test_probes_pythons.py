"""The probes run inside the target: standard library only, Python 3.8 to 3.13."""

from __future__ import annotations

import ast
import sys

import pytest
from envkit import PYTHONS_HINT, find_pythons

from envdoctor.probe import ImportProber, run_facts_probe
from envdoctor.resources import probes_dir
from envdoctor.target import resolve

PROBES = sorted(probes_dir().glob("*.py"))


def _found() -> dict[str, str]:
    """Every CPython 3.8-3.13 found here (envkit.find_python: $ENVDOCTOR_TEST_PYTHONS or discovery), and ours."""
    found = find_pythons([f"3.{minor}" for minor in range(8, 14)])
    found.setdefault(f"{sys.version_info.major}.{sys.version_info.minor}", sys.executable)
    return {k: found[k] for k in sorted(found, key=lambda v: int(v.split(".")[1]))}


def _interpreters() -> list[str]:
    return list(_found().values())


@pytest.mark.parametrize("probe", PROBES, ids=lambda p: p.name)
def test_probe_parses_as_python_38(probe):
    ast.parse(probe.read_text(), feature_version=(3, 8))


@pytest.mark.parametrize("probe", PROBES, ids=lambda p: p.name)
def test_probe_imports_only_the_standard_library(probe):
    tree = ast.parse(probe.read_text())
    tops = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    tops |= {n.module.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
    assert tops <= set(sys.stdlib_module_names), tops - set(sys.stdlib_module_names)


@pytest.mark.parametrize("python", _interpreters())
def test_probes_run_on_each_python(python):
    target = resolve(python=python)
    facts = run_facts_probe(target)
    assert facts["python"]["version"] == target.version
    assert isinstance(facts["distributions"], list)
    results = ImportProber(target, timeout=30).run(["json", "no_such_module_here"])
    assert [r.status for r in results] == ["ok", "missing"]


def test_more_than_one_python_was_tried():
    # The matrix above is one only with two or more interpreters (say so when a machine has fewer), and each
    # must be, as envdoctor identifies it, the version it stands for.
    found = _found()
    if len(found) < 2:
        pytest.skip(f"only {found} found: the 3.8-3.13 matrix ran on one interpreter ({PYTHONS_HINT})")
    identified = {series: resolve(python=path).version for series, path in found.items()}
    assert all(version.startswith(series + ".") for series, version in identified.items()), identified
    assert len(set(identified.values())) == len(found)


def test_facts_probe_sections_limit_the_document():
    facts = run_facts_probe(resolve(python=sys.executable), sections=("python", "mmcv"))
    assert set(facts) == {"probe", "schema", "python", "mmcv"}
