"""`check --app` on a real MuseTalk checkout: what only training, the vendored whisper or a fallback needs is
not missing for inference, and `--scope training` lists it with the file and line of its import.

MuseTalk's code is not part of this repository: the checkout comes from $ENVDOCTOR_TEST_MUSETALK (or is
exported from the bare clone it names), and the tests skip without one. The target is the interpreter
running the tests; nothing is built.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

import pytest

from envdoctor.datafiles import load
from envdoctor.distnames import install_name, normalize, read_requirements
from envdoctor.manifest import scan_app

# What a README-made environment lacks and MuseTalk's inference never needs: training's data preparation and
# optimiser, training's audio path behind a flag, the vendored whisper's text normaliser, the detector's
# compiled helper with a pure-Python fallback.
NOT_FOR_INFERENCE = ("decord", "bitsandbytes", "lws", "more_itertools", "iou")
TRAINING = ("decord", "bitsandbytes", "lws")


@pytest.fixture(scope="module")
def checkout(musetalk_checkout: Path) -> Path:
    return musetalk_checkout


def _check(cli: Any, checkout: Path, *args: str) -> dict[str, Any]:
    run = cli("check", "--python", sys.executable, "--app", str(checkout), "--only", "imports", "--json", *args)
    assert run.code in (0, 1), run.err
    return run.json()


def _rows(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["title"].removeprefix("import "): r for r in doc["results"]}


def _imports_there(checkout: Path, at: str, module: str) -> bool:
    rel, line = at.rsplit(":", 1)
    text = (checkout / rel).read_text(encoding="utf-8").splitlines()[int(line) - 1]
    return bool(re.search(rf"\b(import|from)\s+{re.escape(module)}\b", text))


def test_the_scan_finds_each_where_the_checkout_imports_it(checkout: Path) -> None:
    manifest = scan_app(checkout)
    for module in NOT_FOR_INFERENCE:
        entry = manifest.entry(module)
        assert entry is not None and entry.imported_at, module
        assert all(_imports_there(checkout, at, module) for at in entry.imported_at), entry.imported_at
        reach = entry.reach_for(["inference"])
        assert reach is None or reach.kind != "required", (module, reach)
    assert manifest.entry("more_itertools").reached == ()  # type: ignore[union-attr]  # nothing reaches the whisper


def test_scope_inference_reports_none_of_them_as_missing(cli: Any, checkout: Path) -> None:
    rows = _rows(_check(cli, checkout))
    for module in NOT_FOR_INFERENCE:
        assert rows[module]["status"] == "skip", rows[module]
    assert "optional" in rows["iou"]["found"] or rows["iou"]["status"] == "ok"


def test_scope_training_lists_them_with_file_and_line(cli: Any, checkout: Path) -> None:
    rows = _rows(_check(cli, checkout, "--scope", "training"))
    for module in TRAINING:
        details = rows[module]["details"]
        assert details["scope"] == "training" and details["entry_point"] in ("train.py", "scripts/preprocess.py")
        assert _imports_there(checkout, details["at"], module), details["at"]
    # the vendored whisper's normaliser: imported, and reached from no entry point of any scope
    whisper = rows["more_itertools"]
    assert whisper["status"] == "skip" and "no entry point" in whisper["found"]
    assert all(_imports_there(checkout, at, "more_itertools") for at in whisper["details"]["imported_at"])


@pytest.mark.parametrize("scope", ["inference", "training", "app"])
def test_no_install_command_names_a_distribution_envdoctor_does_not_know(cli: Any, checkout: Path, scope: str) -> None:
    doc = _check(cli, checkout, "--scope", scope, "--verbose")
    table = {normalize(d) for dists in load("distributions.toml")["modules"].values() for d in dists}
    declared = {normalize(d) for d in read_requirements(checkout / "requirements.txt")}
    installed = {normalize(d["name"]) for d in doc["facts"]["distributions"].values()}
    for r in doc["results"]:
        for m in re.finditer(r"uv pip install (?:--reinstall )?\"?([A-Za-z0-9][\w.-]*)", r.get("fix") or ""):
            assert normalize(m.group(1)) in table | declared | installed, (r["title"], r["fix"])
    assert "install iou" not in " ".join(r.get("fix") or "" for r in doc["results"])
    # the detector's compiled helper: neither the checkout's requirements nor the table say which project it is
    assert install_name("iou", requirements=read_requirements(checkout / "requirements.txt")) is None
