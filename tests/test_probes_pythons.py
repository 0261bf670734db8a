"""Everything under probes/ runs inside the target, on Python 3.8 to 3.13; the top-level probes use the
standard library only (probes/README.md says which part may import what)."""

from __future__ import annotations

import ast
import sys

import pytest
from envkit import PYTHONS_HINT, find_pythons

from envdoctor.inside import run_json
from envdoctor.probe import ImportProber, run_facts_probe
from envdoctor.resources import probes_dir
from envdoctor.target import resolve

PROBES = sorted(probes_dir().glob("*.py"))
"""The stdlib-only probes: the top level of probes/."""
INSIDE = sorted(p for p in probes_dir().rglob("*.py") if "__pycache__" not in p.parts)
"""Every file that runs inside a target: the probes, the smoke passes, the mmpose-free port."""

# Compiles each file named on the command line (no bytecode written) and reports the failures.
_COMPILE_ALL = r"""
import json, sys
failed = {}
for path in sys.argv[1:]:
    try:
        with open(path, "rb") as fh:
            compile(fh.read(), path, "exec", dont_inherit=True)
    except SyntaxError as exc:
        failed[path] = "line %s: %s" % (exc.lineno, exc.msg)
print(json.dumps({"python": "%d.%d" % sys.version_info[:2], "compiled": len(sys.argv) - 1, "failed": failed}))
"""


def _found() -> dict[str, str]:
    """Every CPython 3.8-3.13 found here (envkit.find_python: $ENVDOCTOR_TEST_PYTHONS or discovery), and ours."""
    found = find_pythons([f"3.{minor}" for minor in range(8, 14)])
    found.setdefault(f"{sys.version_info.major}.{sys.version_info.minor}", sys.executable)
    return {k: found[k] for k in sorted(found, key=lambda v: int(v.split(".")[1]))}


def _interpreters() -> list[str]:
    return list(_found().values())


def test_the_tree_holds_each_kind_of_inside_code():
    rel = {p.relative_to(probes_dir()).as_posix() for p in INSIDE}
    assert {
        "envdoctor_facts.py",
        "envdoctor_imports.py",
        "smoke/deps_pass.py",
        "smoke/synth_weights.py",
        "mmpose_free/mmpose/__init__.py",
        "mmpose_free/mmpose/apis/__init__.py",
        "mmcv_ext_stub/template.py",
    } <= rel


@pytest.mark.parametrize("path", INSIDE, ids=lambda p: p.relative_to(probes_dir()).as_posix())
def test_inside_code_parses_as_python_38(path):
    ast.parse(path.read_text(), feature_version=(3, 8))


@pytest.mark.parametrize("python", _interpreters())
def test_every_file_under_probes_compiles_on_each_python(python):
    out = run_json(
        python, ["-c", _COMPILE_ALL, *map(str, INSIDE)], what="compiling probes/", timeout=120, require_exit_zero=True
    ).data
    assert out["compiled"] == len(INSIDE) and out["failed"] == {}, out


@pytest.mark.parametrize("probe", PROBES, ids=lambda p: p.name)
def test_probe_imports_only_the_standard_library(probe):
    tops = _imported_tops(probe)
    assert tops <= set(sys.stdlib_module_names), tops - set(sys.stdlib_module_names)


def _imported_tops(path) -> set[str]:
    tree = ast.parse(path.read_text())
    tops = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    absolute = [n for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module and not n.level]
    return tops | {n.module.split(".")[0] for n in absolute if n.module}


@pytest.mark.parametrize("path", INSIDE, ids=lambda p: p.relative_to(probes_dir()).as_posix())
def test_inside_code_never_imports_envdoctor(path):
    assert "envdoctor" not in _imported_tops(path), "envdoctor is not installed in the target"


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
