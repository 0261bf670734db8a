"""docs/architecture.md against the code: its table of layers is the import-linter contract in
pyproject.toml, and every module its walks of `check` and `fix` name exists."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "architecture.md"
MODULE = re.compile(r"`(envdoctor(?:\.[A-Za-z_][A-Za-z0-9_]*)*)`")


def _section(title: str) -> str:
    text = DOC.read_text(encoding="utf-8")
    start = text.index(f"\n## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else len(text)]


def _doc_layers() -> list[tuple[str, frozenset[str]]]:
    rows = []
    for line in _section("The rule").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 2 or cells[0] in ("Layer", "") or set(cells[0]) <= {"-"}:
            continue
        names = frozenset(m.removeprefix("envdoctor.") for m in MODULE.findall(cells[1]))
        rows.append((cells[0], names))
    return rows


def _contracts() -> list[dict[str, object]]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    contracts: list[dict[str, object]] = config["tool"]["importlinter"]["contracts"]
    return contracts


def _layers_contract() -> dict[str, object]:
    (layers,) = [c for c in _contracts() if c["type"] == "layers"]
    return layers


def test_the_table_of_layers_is_the_contract() -> None:
    contract = _layers_contract()
    assert contract["containers"] == ["envdoctor"]
    declared = [frozenset(m.strip() for m in re.split(r"[:|]", str(layer))) for layer in contract["layers"]]  # type: ignore[attr-defined]
    documented = [names for _, names in _doc_layers()]
    assert documented == declared
    assert [name for name, _ in _doc_layers()] == ["cli", "commands", "report", "services", "domain", "infra"]


def test_every_ignored_import_is_written_down() -> None:
    rule = _section("The rule")
    ignored = {str(i) for c in _contracts() for i in c.get("ignore_imports", [])}  # type: ignore[attr-defined]
    for entry in ignored:
        assert f"`{entry}`" in rule, f"{entry} is ignored in pyproject.toml but not explained in docs/architecture.md"


def test_every_module_of_the_package_has_a_layer() -> None:
    placed = set().union(*(names for _, names in _doc_layers()))
    top = {p.stem for p in (ROOT / "envdoctor").glob("*.py") if p.stem != "__init__"}
    top |= {p.parent.name for p in (ROOT / "envdoctor").glob("*/__init__.py")}
    assert top == placed


def test_the_walks_name_modules_that_exist() -> None:
    named = set()
    for title in ("The rooms", "The types that flow between them", "How `check` runs", "How `fix` runs"):
        named |= set(MODULE.findall(_section(title)))
    assert len(named) > 20
    missing = sorted(m for m in named if importlib.util.find_spec(m) is None)
    assert missing == []
