"""A check that raises is one failed row that names it and the exception; every other check still reports."""

from __future__ import annotations

import sys
from collections.abc import Iterator

import pytest

from envdoctor import checkrun as check_mod
from envdoctor.checks import REGISTRY, CheckContext, CheckResult, CheckSpec, ResultFactory, Status
from envdoctor.target import current

BOOM = "system.boom"


def _boom(ctx: CheckContext, result: ResultFactory) -> Iterator[CheckResult]:
    yield result(Status.OK, found="this row must not survive the crash")
    raise ZeroDivisionError("a bug planted by the test")


@pytest.fixture
def raising_check(monkeypatch: pytest.MonkeyPatch) -> CheckSpec:
    """A real check, registered first among the System checks, that raises after yielding one row."""
    spec = CheckSpec(BOOM, "System", "a check that raises", False, _boom)
    monkeypatch.setattr(check_mod, "REGISTRY", [spec, *REGISTRY])
    return spec


def _others() -> list[CheckSpec]:
    return [s for s in REGISTRY if s.id.startswith(("system.", "tools."))]


def test_a_raising_check_is_one_failed_row_and_the_others_still_run(raising_check):
    report = check_mod.run(current(), only=("system", "tools"))
    ids = [r.id for r in report.results]
    assert ids.count(BOOM) == 1
    (row,) = [r for r in report.results if r.id == BOOM]
    assert row.status is Status.FAIL
    assert BOOM in row.found and "ZeroDivisionError" in row.found and "a bug planted by the test" in row.found
    assert "ZeroDivisionError" in "".join(row.details["traceback"])
    assert set(ids) == {BOOM} | {s.id for s in _others()}
    assert report.exit_code == 1


def test_the_cli_reports_the_crash_and_every_other_check(cli, raising_check):
    run = cli("check", "--python", sys.executable, "--only", "system", "--only", "tools", "--json")
    assert run.code == 1
    doc = run.json()
    by_id = {r["id"]: r for r in doc["results"]}
    assert by_id[BOOM]["status"] == "fail" and "ZeroDivisionError" in by_id[BOOM]["found"]
    assert {s.id for s in _others()} <= set(by_id)
    assert doc["categories"]["System"] == "fail"

    text = cli("check", "--python", sys.executable, "--only", "system", "--only", "tools")
    assert text.code == 1
    for spec in [raising_check, *_others()]:
        assert spec.title in text.out
