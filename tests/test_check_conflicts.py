"""`uv pip check`'s conflicts: each with its own fix, or why it does not matter for the scopes checked.

Whether a conflict matters is read from which scope's imports bring the distribution that declares the unmet
requirement in (its Requires-Dist, followed from what the scope imports), never from a list of names.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from envkit import build_env, python_of

from envdoctor import checkrun
from envdoctor.checks import CheckContext, CheckResult, Status
from envdoctor.checks.packages import torch_pair
from envdoctor.facts import Distribution, Facts
from envdoctor.manifest import builtin
from envdoctor.target import current, resolve
from envdoctor.uv import Unmet, parse_check


def test_the_lines_of_uv_pip_check_as_data() -> None:
    lines = [
        "The package `typer` requires `rich>=10.11.0`, but `10.0.0` is installed",
        "The package `rich` requires `commonmark>=0.9.0,<0.10.0`, but it's not installed",
        "something uv may say one day",
    ]
    unmet, other = parse_check(lines)
    assert unmet == [
        Unmet("typer", "rich>=10.11.0", "10.0.0", lines[0]),
        Unmet("rich", "commonmark>=0.9.0,<0.10.0", None, lines[1]),
    ]
    assert other == [lines[2]]


@pytest.fixture(scope="module")
def env() -> Path:
    # typer with a rich older than it declares (and rich 10 without its own requirements); requests without its
    # own, installed for nothing MuseTalk imports.
    return build_env("conflicts", ["typer==0.15.1"], no_deps=["rich==10.0.0", "requests==2.32.3"])


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("conflicts") / "MuseTalk"
    (root / "scripts").mkdir(parents=True)
    (root / "scripts" / "inference.py").write_text("import rich\n")
    (root / "app.py").write_text("import typer\n")
    return root


def _rows(env: Path, app: Path, *scopes: str) -> dict[str, CheckResult]:
    report = checkrun.run(
        resolve(python=str(python_of(env))), app=app, scopes=scopes or ("inference",), only=["packages.consistent"]
    )
    return {r.title: r for r in report.results}


@pytest.mark.envs
@pytest.mark.network
def test_a_conflict_only_the_app_scope_reaches_does_not_matter_for_inference(env: Path, app: Path) -> None:
    rows = _rows(env, app)
    typer = rows["typer requires rich>=10.11.0"]
    assert typer.status is Status.SKIP and not typer.fix
    assert "does not matter for inference: the app scope needs typer" in typer.found and "app.py:1" in typer.found
    rich = rows["rich requires commonmark>=0.9.0,<0.10.0"]
    assert rich.status is Status.WARN and "scripts/inference.py:1" in rich.why
    assert rich.fix.startswith('uv pip install "commonmark>=0.9.0,<0.10.0"')
    requests = [r for title, r in rows.items() if title.startswith("requests requires")]
    assert requests and all(r.status is Status.SKIP and "no import of any MuseTalk scope" in r.found for r in requests)
    assert not [r for r in rows.values() if "envdoctor fix" in (r.fix or "")]


@pytest.mark.envs
@pytest.mark.network
def test_the_scope_that_reaches_a_conflict_gets_its_own_fix_with_the_chain(env: Path, app: Path) -> None:
    rows = _rows(env, app, "app")
    typer = rows["typer requires rich>=10.11.0"]
    assert typer.status is Status.WARN and typer.fix.startswith('uv pip install "rich>=10.11.0"')
    assert "app.py:1" in typer.why
    rich = rows["rich requires commonmark>=0.9.0,<0.10.0"]
    assert rich.status is Status.WARN and "typer -> rich" in rich.why
    assert rich.details["needed_by"]["app"]["chain"] == ["typer", "rich"]


@pytest.mark.envs
@pytest.mark.network
def test_a_conflict_deep_in_what_an_import_brings_in_is_followed_to_its_import(app: Path) -> None:
    # typer -> rich -> markdown-it-py, whose mdurl is never installed
    env = build_env("conflicts-deep", ["typer==0.15.1"], excludes=["mdurl"])
    (title,) = [t for t in _rows(env, app) if t.startswith("markdown-it-py requires mdurl")]
    inference, web = _rows(env, app)[title], _rows(env, app, "app")[title]
    assert inference.status is Status.WARN and inference.details["needed_by"]["inference"]["chain"] == [
        "rich",
        "markdown-it-py",
    ]
    assert web.status is Status.WARN and "typer -> rich -> markdown-it-py" in web.why and "app.py:1" in web.why
    assert web.fix.startswith('uv pip install "mdurl')


def _facts(*dists: Distribution) -> Facts:
    return Facts(distributions={d.key: d for d in dists})


@pytest.mark.parametrize(
    ("torch", "fix"),
    [
        (
            "2.0.1+cu118",
            'uv pip install "torchvision==0.15.*" "torch==2.0.1+cu118" --index-url https://download.pytorch.org/whl/cu118',
        ),
        ("2.14.1", 'uv pip install "torchvision==0.29.*" "torch==2.14.1" --index-url https://pypi.org/simple'),
    ],
)
def test_a_torchvision_mismatch_names_the_install_of_the_torchvision_made_for_this_torch(torch: str, fix: str) -> None:
    # `envdoctor fix` holds torch and torchvision where they are: the row gives its own install
    facts = _facts(Distribution("torch", torch), Distribution("torchvision", "0.20.0", requires=("torch==2.5.0",)))
    ctx = CheckContext(target=current(), facts=facts, manifest=builtin())
    (row,) = list(torch_pair(ctx))
    assert row.status is Status.FAIL and row.fix.startswith(fix + "  ")
