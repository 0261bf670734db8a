"""The why/fix sentences of the checks live in data (findings.toml, or breakers.toml and models.toml): every case a
check asks for is there, every case there is asked for, every placeholder of a sentence is a value the check passes,
and no check writes a why or a fix sentence of its own."""

from __future__ import annotations

import ast
import re
import string
from collections.abc import Iterator
from pathlib import Path
from typing import TypeGuard

import pytest

from envdoctor.checks import REGISTRY, CheckContext, Status
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


TEXT_KEYS = ("why", "fix")
# Words with a space: a key, a file name or a case ("why", "rules.toml", "not-installed") has none, and a
# separator ("; ") has no word; a fragment such as " (breaker #" has both.
WORD = re.compile(r"[A-Za-z]{2,}")


def _is_sentence(text: str) -> bool:
    return bool(WORD.search(text)) and any(c.isspace() for c in text)


def _is_text_key(node: ast.expr | None) -> TypeGuard[ast.Constant]:
    return isinstance(node, ast.Constant) and node.value in TEXT_KEYS


def _is_said(node: ast.AST) -> bool:
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "said"


def _literals(node: ast.AST) -> Iterator[str]:
    """The string literals of a value, f-strings' literal parts included; of a dict display only those under
    "why"/"fix" (or a `**` inside it), which is what spreading it into result(...) passes."""
    if isinstance(node, ast.Dict):
        for key, value in zip(node.keys, node.values, strict=True):
            if key is None or _is_text_key(key):
                yield from _literals(value)
    elif isinstance(node, ast.Constant) and isinstance(node.value, str):
        yield node.value
    else:
        for child in ast.iter_child_nodes(node):
            yield from _literals(child)


def _names(node: ast.AST) -> Iterator[str]:
    """The variables a value reads, except the placeholder values it hands to said(...): those are facts
    (a path, a version) that the data's sentence names, not sentences."""
    if _is_said(node):
        return
    if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
        yield node.id
    for child in ast.iter_child_nodes(node):
        yield from _names(child)


def _assigned(scope: ast.AST) -> dict[str, list[ast.expr]]:
    """Every value a plain name is given in `scope`."""
    out: dict[str, list[ast.expr]] = {}
    for node in ast.walk(scope):
        if isinstance(node, ast.Assign):
            pairs = [(t, node.value) for t in node.targets]
        elif isinstance(node, (ast.AnnAssign, ast.AugAssign, ast.NamedExpr)) and node.value is not None:
            pairs = [(node.target, node.value)]
        else:
            continue
        for target, value in pairs:
            if isinstance(target, ast.Tuple) and isinstance(value, ast.Tuple) and len(target.elts) == len(value.elts):
                pairs += list(zip(target.elts, value.elts, strict=True))
            elif isinstance(target, ast.Name):
                out.setdefault(target.id, []).append(value)
    return out


def _has_text(node: ast.AST, assigned: dict[str, list[ast.expr]], seen: frozenset[str] = frozenset()) -> bool:
    """Whether a why/fix value holds words written in the code: a literal, the literal part of an f-string or of a
    concatenation, or the same in what a variable it reads was assigned. A sentence from said(...) or a data
    file's entry (rule["why"], exp.cause) holds none of the code's."""
    if any(_is_sentence(text) for text in _literals(node)):
        return True
    names = set(_names(node)) - seen
    return any(_has_text(value, assigned, seen | names) for name in names for value in assigned.get(name, ()))


def _written(tree: ast.Module) -> Iterator[tuple[ast.stmt | ast.expr, str, ast.AST]]:
    """(node, how, value) of every why/fix the code gives: a keyword (result(why=...), dict(fix=...)), what
    `**name` spreads into result(...), a dict display's "why"/"fix" entry, or an item x["why"] = ...."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            spreads = isinstance(node.func, ast.Name) and node.func.id == "result"
            for k in node.keywords:
                if k.arg in TEXT_KEYS or (k.arg is None and spreads):
                    yield node, f"{k.arg}=" if k.arg else "**", k.value
        elif isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values, strict=True):
                if _is_text_key(key):
                    yield node, f"{{{key.value!r}: ...}}", value
        elif isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Subscript) and _is_text_key(target.slice):
                    yield node, f"[{target.slice.value!r}] =", node.value


def _own_texts(source: str, name: str) -> list[str]:
    """Where a module writes a why or fix sentence of its own, as "file:line how"."""
    tree = ast.parse(source)
    module = _assigned(ast.Module(body=[n for n in tree.body if not isinstance(n, ast.FunctionDef)], type_ignores=[]))
    # A variable is what the innermost function around it (or the module) gave it; ast.walk lists an outer
    # function before the ones inside it, so those take their own nodes back.
    scope: dict[int, dict[str, list[ast.expr]]] = {}
    for function in ast.walk(tree):
        if isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)):
            assigned = {**module, **_assigned(function)}
            scope.update((id(n), assigned) for n in ast.walk(function))
    found = {(node.lineno, how) for node, how, value in _written(tree) if _has_text(value, scope.get(id(node), module))}
    return [f"{name}:{line} {how}" for line, how in sorted(found)]


def test_no_check_writes_its_own_why_or_fix() -> None:
    written = []
    for path in sorted(set(CHECKS.glob("*.py")) - {CHECKS / "base.py"}):  # base.py: the crash row, no check's
        written += _own_texts(path.read_text(encoding="utf-8"), path.name)
    assert written == [], f"why/fix sentences belong in envdoctor/data/findings.toml (checks/texts.said): {written}"


@pytest.mark.parametrize(
    "code",
    [
        'yield result(Status.FAIL, why="the wheel is built for another Python")',
        'yield result(Status.FAIL, fix=f"uv pip install {name}")',
        'yield result(Status.FAIL, why=rule["why"] + " (breaker #" + str(n) + ")")',
        'texts = {"why": cause, "fix": "envdoctor fix"}\n    yield result(Status.FAIL, **texts)',
        'why = cause + f" (the same cause as {same})"\n    yield result(Status.FAIL, **{"why": why})',
        'texts = said("imports", "crash")\n    texts["fix"] = "reinstall it"\n    yield result(Status.FAIL, **texts)',
        'yield result(Status.FAIL, **dict(said("imports", "crash"), fix="reinstall it"))',
    ],
)
def test_the_rule_sees_a_sentence_however_it_is_passed(code: str) -> None:
    assert _own_texts(f"def c(ctx, result):\n    {code}\n", "c.py"), code


@pytest.mark.parametrize(
    "code",
    [
        'yield result(Status.FAIL, **said("imports", "crash"), breaker=2)',
        'yield result(Status.FAIL, why=spec["why"], fix=rule.get("fix"))',
        'notes = [said("packages.mmcv-ext", "leftover-stub")["why"]]\n'
        '    yield result(Status.WARN, why="; ".join(notes))',
        'texts = said("imports", "explained", cause=exp.cause, fix=exp.fix, breaker=exp.breaker)\n'
        "    yield result(Status.FAIL, **texts)",
    ],
)
def test_the_rule_lets_a_sentence_from_the_data_through(code: str) -> None:
    assert _own_texts(f"def c(ctx, result):\n    {code}\n", "c.py") == [], code


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
    ctx = CheckContext(
        target=current(), facts=Facts(damaged=(damaged,)), manifest=builtin(), uv_check=["a 1 needs b>2"]
    )
    (unread,) = list(readable(ctx))
    (unmet,) = list(consistent(ctx))
    data = load(FILE)
    assert unread.status is Status.FAIL and unread.why == data["packages.readable"]["damaged"]["why"]
    assert unread.fix == (
        "uv pip install --reinstall torchvision  (or remove the folder site/torchvision-0.20.0.dist-info)"
    )
    unread_texts = data["packages.consistent"]["unparsed"]
    assert unmet.status is Status.WARN and unmet.why == unread_texts["why"]
    assert unmet.fix == unread_texts["fix"].replace("{python}", str(ctx.target.python))
