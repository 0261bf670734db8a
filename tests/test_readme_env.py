"""A MuseTalk environment made the README's way (pip, requirements.txt, openmim and `mim install`), treated as a
user's own: `check --app` says only what is true for inference, `fix` then leaves no finding whose fix is
`envdoctor fix`, and `smoke` passes MuseTalk's own run on it.

Slow: the environment takes about 16 minutes to build here (tests/readmeenv.py; kept between runs), smoke about
8 more. It needs a real MuseTalk checkout ($ENVDOCTOR_TEST_MUSETALK) and Python 3.10; it skips without them.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from envkit import python_of
from readmeenv import readme_env

from envdoctor.datafiles import load
from envdoctor.distnames import normalize, read_requirements

pytestmark = pytest.mark.slow

NOT_FOR_INFERENCE = ("decord", "bitsandbytes", "lws", "more_itertools", "iou")
_INSTALL = re.compile(r"(?:uv )?pip install ((?:\S+\s?)+)")


@pytest.fixture(scope="module")
def env(musetalk_checkout: Path) -> Path:
    return readme_env(musetalk_checkout)


def _check(cli: Any, env: Path, checkout: Path, *args: str) -> dict[str, Any]:
    run = cli("check", "--venv", str(env), "--app", str(checkout), "--json", *args)
    assert run.code in (0, 1), run.err
    return run.json()


def _distributions(env: Path) -> dict[str, str]:
    code = (
        "import json, importlib.metadata as m; "
        "print(json.dumps({d.metadata['Name']: d.version for d in m.distributions()}))"
    )
    out = subprocess.run([str(python_of(env)), "-c", code], capture_output=True, text=True, check=True).stdout
    return {normalize(k): v for k, v in json.loads(out).items()}


def _named_in_installs(text: str) -> list[str]:
    """The distributions an install command in `text` names (options and URLs left out)."""
    names = []
    for match in _INSTALL.finditer(text):
        for word in match.group(1).split():
            word = word.strip("\"'`,;()")
            if word.startswith("-") or "://" in word or not word:
                break
            names.append(normalize(re.split(r"[<>=!~\[ ]", word)[0]))
    return names


def test_the_readme_environment_works_and_check_says_only_what_is_true_for_inference(
    cli: Any, env: Path, musetalk_checkout: Path
) -> None:
    doc = _check(cli, env, musetalk_checkout)
    rows = {r["title"].removeprefix("import "): r for r in doc["results"] if r["category"] == "Imports"}
    for module in NOT_FOR_INFERENCE:
        assert rows[module]["status"] == "skip", rows[module]
    by_id = {r["id"]: r for r in doc["results"]}
    # mim built mmcv 2.0.1 from its source: the compiled ops are real and check says so
    assert by_id["packages.mmcv-ext"]["status"] == "ok", by_id["packages.mmcv-ext"]
    # An install command names only a distribution envdoctor knows provides the module: the checkout's
    # requirements, installed metadata, or its own table; never a guess from a module's name.
    known = {normalize(r) for r in read_requirements(musetalk_checkout / "requirements.txt")}
    known |= set(_distributions(env))
    known |= {normalize(d) for dists in load("distributions.toml")["modules"].values() for d in dists}
    for r in doc["results"]:
        for name in _named_in_installs(f"{r.get('fix') or ''}"):
            assert name in known, (r["id"], r["fix"])


def test_scope_training_lists_the_training_imports_with_their_file_and_line(
    cli: Any, env: Path, musetalk_checkout: Path
) -> None:
    doc = _check(cli, env, musetalk_checkout, "--scope", "training", "--only", "imports")
    rows = {r["title"].removeprefix("import "): r for r in doc["results"]}
    for module in ("decord", "bitsandbytes"):
        assert rows[module]["status"] in ("warn", "fail"), rows[module]
        at = rows[module]["details"]["imported_at"][0]
        rel, line = at.rsplit(":", 1)
        assert module in (musetalk_checkout / rel).read_text(encoding="utf-8").splitlines()[int(line) - 1]


def test_after_fix_check_shows_no_finding_whose_fix_is_envdoctor_fix(
    cli: Any, env: Path, musetalk_checkout: Path, tmp_path: Path
) -> None:
    # fix acts on a copy (hard links: uv and pip replace a file, they never write into one) so the kept
    # environment stays the README's for the other tests.
    copy = tmp_path / "readme-env"
    subprocess.run(["cp", "-al", str(env), str(copy)], check=True)
    before = _distributions(env)
    doc = _check(cli, copy, musetalk_checkout)
    promised = [r["id"] for r in doc["results"] if "envdoctor fix" in (r.get("fix") or "")]
    # The README's steps bring no ffmpeg (it says to download one by hand): check points at fix for it.
    assert "tools.ffmpeg" in promised or shutil.which("ffmpeg"), promised
    run = cli("fix", "--venv", str(copy), "--yes", "--json")
    assert run.code == 0, run.out + run.err
    after = _check(cli, copy, musetalk_checkout)
    left = [(r["id"], r["found"], r["fix"]) for r in after["results"] if "envdoctor fix" in (r.get("fix") or "")]
    assert left == [], (promised, left)
    assert after["summary"]["problems"] == 0, after["summary"]
    assert _distributions(env) == before
