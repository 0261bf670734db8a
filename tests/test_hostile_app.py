"""`check --app` on a hostile checkout: its code never runs, what cannot be scanned is said, output stays bounded."""

from __future__ import annotations

import sys
import sysconfig
import tracemalloc
from pathlib import Path

import pytest

from envdoctor.explain import explain
from envdoctor.manifest import AST_LIMIT, scan_app
from envdoctor.probe import STDERR_HEAD, STDERR_TAIL, ImportProber
from envdoctor.target import resolve
from envdoctor.uv import find_uv


def _site_packages(venv: Path) -> Path:
    rel = sysconfig.get_path("purelib", vars={"base": "", "platbase": ""}).lstrip("/")
    return venv / rel


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A bare venv with two small installed packages: one that imports mmcv, one that prints 100 MB."""
    root = tmp_path_factory.mktemp("hostile-app") / "venv"
    find_uv().venv(root, python=sys.executable)
    site = _site_packages(root)
    (site / "usesmmcv").mkdir()
    (site / "usesmmcv" / "__init__.py").write_text("import mmcv  # a dependency that needs mmcv\n")
    (site / "loud").mkdir()
    (site / "loud" / "__init__.py").write_text(
        "import sys\n"
        "chunk = 'noise ' * 100_000 + '\\n'\n"
        "for _ in range(167):\n"  # ~100 MB, on stdout and stderr alike
        "    sys.stdout.write(chunk)\n"
        "    sys.stderr.write(chunk)\n"
        "sys.stdout.write('x' * 1_000_000)\n"  # and one long line without an end
        "raise RuntimeError('loud failed after the noise ' + 'y' * 5_000_000)\n"
    )
    return root


def _checkout(root: Path, *imports: str) -> Path:
    (root / "scripts").mkdir(parents=True)
    (root / "scripts" / "inference.py").write_text("".join(f"import {m}\n" for m in imports))
    return root


def test_app_local_module_that_shadows_a_dependency_is_a_finding_and_never_imported(
    venv: Path, tmp_path: Path, cli
) -> None:
    app = _checkout(tmp_path / "app", "usesmmcv", "mmpose")
    marker = tmp_path / "checkout-code-ran"
    (app / "mmcv").mkdir()
    (app / "mmcv" / "__init__.py").write_text(f"open({str(marker)!r}, 'w').write('ran')\n")
    run = cli("check", "--venv", str(venv), "--app", str(app), "--only", "imports*", "--json")
    assert run.code == 1, run.err
    assert not marker.exists(), "the checkout's own mmcv/ was imported"
    results = run.json()["results"]
    shadow = [r for r in results if r["id"] == "imports.app-local" and r["status"] == "fail"]
    assert shadow and shadow[0]["breaker"] == 17 and "mmcv/" in shadow[0]["title"]
    uses = next(r for r in results if r["title"] == "import usesmmcv")
    assert "No module named 'mmcv'" in uses["found"]  # the installed package, without the checkout's copy


def test_binary_unreadable_and_broken_files_are_listed_as_skipped(venv: Path, tmp_path: Path, cli) -> None:
    app = _checkout(tmp_path / "app", "json")
    (app / "nulls.py").write_bytes(b"import os\x00\x00\x00\n")
    (app / "latin.py").write_bytes(b"s = '\xe9t\xe9'\n")
    (app / "gone.py").symlink_to(tmp_path / "nowhere.py")
    m = scan_app(app)
    skipped = dict(m.skipped)
    assert skipped["nulls.py"] == "binary: it holds null bytes"
    assert skipped["latin.py"].startswith("not valid Python")
    assert skipped["gone.py"].startswith("unreadable")
    run = cli("check", "--venv", str(venv), "--app", str(app), "--only", "imports.scan", "--json")
    doc = run.json()
    assert "No problems" not in doc["summary"]["text"]
    assert {r["title"] for r in doc["results"]} == {"skipped nulls.py", "skipped latin.py", "skipped gone.py"}


def test_a_20_mb_file_is_scanned_in_bounded_memory(tmp_path: Path) -> None:
    app = _checkout(tmp_path / "app", "json")
    big = app / "big.py"
    with open(big, "w") as fh:
        fh.write("import yaml\n")
        fh.write("x = 1\n" * 2_500_000)
        fh.write("s = '" + "a" * 6_000_000 + "'\n")  # one line longer than any chunk
        fh.write("    from librosa import load\n")
        fh.write("x = 1; import notaline\n")
    assert big.stat().st_size > 10 * AST_LIMIT
    tracemalloc.start()
    try:
        m = scan_app(app)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 20_000_000, f"peak {peak / 1e6:.0f} MB while scanning a 20 MB file"
    assert m.line_scanned == ("big.py",)
    names = {e.name for e in m.entries}
    assert {"yaml", "librosa"} <= names and "notaline" not in names


def test_a_module_that_prints_100_mb_gives_a_bounded_result(venv: Path) -> None:
    prober = ImportProber(resolve(venv=str(venv)), timeout=120)
    [r] = prober.run(["loud"])
    assert r.status == "error" and r.error_type == "RuntimeError"
    assert len(r.symptom) < 40_000
    assert r.message is not None and r.message.startswith("loud failed after the noise")
    explain(r.symptom, {})  # the catalog sees the bounded text only


def test_check_on_a_module_that_printed_100_mb_reports_bounded_text(venv: Path, tmp_path: Path, cli) -> None:
    app = _checkout(tmp_path / "app", "loud")
    run = cli("check", "--venv", str(venv), "--app", str(app), "--only", "imports", "--json", "--import-timeout", "60")
    assert run.code == 1, run.err
    assert len(run.out) < 10 * (STDERR_HEAD + STDERR_TAIL) + 100_000
    loud = next(r for r in run.json()["results"] if r["title"] == "import loud")
    assert "RuntimeError: loud failed after the noise" in loud["found"]
