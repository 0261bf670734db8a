"""The why/fix sentences of the checks live in data (findings.toml, or breakers.toml and models.toml): every case a
check asks for is there, every case there is asked for, every placeholder of a sentence is a value the check passes,
and no check writes a why or a fix sentence of its own."""

from __future__ import annotations

import ast
import string
from pathlib import Path

import pytest

from envdoctor.checks import REGISTRY, Context, Status
from envdoctor.checks.packages import consistent, readable
from envdoctor.checks.texts import FILE, said
from envdoctor.datafiles import load
from envdoctor.facts import Damaged, Facts
from envdoctor.manifest import builtin
from envdoctor.target import current

CHECKS = Path(__file__).resolve().parent.parent / "envdoctor" / "checks"


def _calls() -> list[tuple[str, int, str, str, frozenset[str]]]:
    """(file, line, check id, case, keyword names) of every said(...) call under envdoctor/checks/."""
    out = []
    for path in sorted(CHECKS.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "said"):
                continue
            args = node.args
            where = f"{path.name}:{node.lineno}"
            texts = [a.value for a in args if isinstance(a, ast.Constant) and isinstance(a.value, str)]
            assert len(args) == len(texts) == 2, (
                f"{where}: said() takes the check id and the case as string literals, so that this test sees them"
            )
            keywords = frozenset(k.arg for k in node.keywords if k.arg)
            out.append((path.name, node.lineno, texts[0], texts[1], keywords))
    return out


def _placeholders(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def test_the_checks_ask_for_texts() -> None:
    files = {c[0] for c in _calls()}
    assert {"packages.py", "gpu.py", "tools.py", "system.py", "models.py", "imports.py"} <= files


def _has_text(node: ast.expr) -> bool:
    """A sentence written in the code: a literal (or an f-string's literal part) of three words or more.
    A key (rule["why"]), a separator ("; ") or the uniform suffix " (breaker #N)" is not one."""
    keys = {id(n.slice) for n in ast.walk(node) if isinstance(n, ast.Subscript)}
    return any(
        isinstance(n, ast.Constant) and isinstance(n.value, str) and id(n) not in keys and len(n.value.split()) >= 3
        for n in ast.walk(node)
    )


def test_no_check_writes_its_own_why_or_fix() -> None:
    written = []
    for path in sorted(set(CHECKS.glob("*.py")) - {CHECKS / "base.py"}):  # base.py: the crash row, no check's
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "result":
                written += [
                    f"{path.name}:{node.lineno} {k.arg}="
                    for k in node.keywords
                    if k.arg in ("why", "fix") and _has_text(k.value)
                ]
    assert written == [], "why/fix sentences belong in envdoctor/data/findings.toml (checks/texts.said)"


def test_every_case_a_check_asks_for_is_in_the_data() -> None:
    data = load(FILE)
    ids = {s.id for s in REGISTRY}
    for where, line, check_id, case, _kw in _calls():
        assert check_id in ids, f"{where}:{line}: {check_id} is not a registered check"
        assert case in data.get(check_id, {}), f"{where}:{line}: [{check_id!r}.{case}] is missing from {FILE}"


def test_every_case_in_the_data_is_asked_for() -> None:
    used = {(c[2], c[3]) for c in _calls()}
    for check_id, cases in load(FILE).items():
        for case in cases:
            assert (check_id, case) in used, f"{FILE}: [{check_id!r}.{case}] is never used by a check"


def test_each_case_has_a_why_or_a_fix_and_nothing_else() -> None:
    for check_id, cases in load(FILE).items():
        for case, entry in cases.items():
            assert entry and set(entry) <= {"why", "fix"}, f"{FILE}: [{check_id!r}.{case}] has {sorted(entry)}"
            assert all(isinstance(v, str) and v.strip() for v in entry.values())


def test_every_placeholder_is_a_value_the_check_passes() -> None:
    data = load(FILE)
    for where, line, check_id, case, keywords in _calls():
        entry = data[check_id][case]
        wanted = set().union(*(_placeholders(t) for t in entry.values()))
        assert wanted == keywords, (
            f"{where}:{line}: [{check_id!r}.{case}] names {sorted(wanted)}, the call passes {sorted(keywords)}"
        )


def test_said_fills_the_values_and_refuses_an_unknown_case() -> None:
    texts = said("gpu.torch", "gpu-hidden", cuda="12.8")
    assert "CUDA 12.8" in texts["fix"] and "{" not in texts["fix"] and texts["why"]
    assert set(said("gpu.arch", "not-a-capability")) == {"fix"}
    with pytest.raises(KeyError):
        said("gpu.torch", "no-such-case")


def test_a_check_reports_the_sentences_of_the_data() -> None:
    damaged = Damaged("torchvision", "RECORD", "is empty", "site/torchvision-0.20.0.dist-info")
    ctx = Context(target=current(), facts=Facts(damaged=(damaged,)), manifest=builtin(), uv_check=["a 1 needs b>2"])
    (unread,) = list(readable(ctx))
    (unmet,) = list(consistent(ctx))
    data = load(FILE)
    assert unread.status is Status.FAIL and unread.why == data["packages.readable"]["damaged"]["why"]
    assert unread.fix == (
        "uv pip install --reinstall torchvision  (or remove the folder site/torchvision-0.20.0.dist-info)"
    )
    unmet_texts = data["packages.consistent"]["unmet"]
    assert unmet.status is Status.WARN and (unmet.why, unmet.fix) == (unmet_texts["why"], unmet_texts["fix"])
