"""The held-out part of the explain corpus is scored, never asserted: these tests hold only its mechanics.

A held-out figure is reported only for the catalog frozen in heldout/FREEZE; its excerpts were first committed
after the freeze; none of them comes from a thread of the in-sample part."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from envdoctor import explain, maint, process
from envdoctor.maint.explain_score import CatalogChanged, catalog_sha256, heldout_score, samples, score

CORPUS = Path(__file__).parent / "explain_corpus"
HELDOUT = CORPUS / "heldout"
SAMPLE = """
[[sample]]
url = "https://example.org/thread/1"
cause = "numpy 2 under a cv2 built for numpy 1"
key = "numpy-abi"
text = "A module that was compiled using NumPy 1.x cannot be run in NumPy 2.0.0 as it may crash."
"""


def _heldout(tmp_path: Path, sha: str, excerpts: bool = True) -> Path:
    folder = tmp_path / "corpus" / "heldout"
    folder.mkdir(parents=True)
    (folder / "FREEZE").write_text(f'sha256 = "{sha}"\ndate = "2026-12-07"\n')
    if excerpts:
        (folder / "a.toml").write_text(SAMPLE)
    return folder


def test_a_heldout_figure_is_reported_for_the_frozen_catalog(tmp_path: Path) -> None:
    held, freeze = heldout_score(_heldout(tmp_path, catalog_sha256()))
    assert (held.environment, held.right, freeze.date) == (1, 1, "2026-12-07")


def test_an_environment_failure_the_catalog_has_no_key_for_counts_as_unanswered_not_as_a_negative() -> None:
    rows = [
        {"url": "u1", "key": "a-failure-no-entry-names", "text": "ModuleNotFoundError: No module named 'zzq'"},
        {"url": "u2", "key": "unknown", "text": "RuntimeError: the thread never settled this"},
    ]
    s = score("held-out", rows)
    assert (s.environment, s.right, s.negatives) == (1, 0, 1)
    assert [m.url for m in s.misses] == ["u1"]


def test_a_heldout_figure_is_refused_once_the_catalog_changed(tmp_path: Path) -> None:
    folder = _heldout(tmp_path, "0" * 64)
    with pytest.raises(CatalogChanged, match="catalog changed since the held-out part was frozen"):
        heldout_score(folder)
    (tmp_path / "corpus" / "in.toml").write_text(SAMPLE)
    # the maintainer's command says so and exits 2, printing no held-out figure
    assert maint.main(["explain-score", "--heldout", "--corpus", str(tmp_path / "corpus")]) == 2


def test_a_freeze_without_heldout_excerpts_says_there_is_no_heldout_figure_yet(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # right after a freeze, before its held-out part is gathered: no figure of nothing, and no refusal
    held, freeze = heldout_score(_heldout(tmp_path, catalog_sha256(), excerpts=False))
    assert (held.environment, held.negatives, freeze.date) == (0, 0, "2026-12-07")
    (tmp_path / "corpus" / "in.toml").write_text(SAMPLE)
    assert maint.main(["explain-score", "--heldout", "--corpus", str(tmp_path / "corpus")]) == 0
    out = capsys.readouterr().out
    assert "environment failures with the settled cause: 1/1" in out  # the in-sample part
    tail = out.split("held-out (catalog frozen 2026-12-07", 1)[1]
    assert "no held-out excerpts yet: there is no held-out figure for this freeze" in tail
    assert "settled cause" not in tail and "%" not in tail


def test_the_catalog_sha256_covers_every_byte_of_the_catalog(tmp_path: Path) -> None:
    from envdoctor.resources import data_dir

    copy, code = tmp_path / "data", tmp_path / "code"
    copy.mkdir()
    code.mkdir()
    shutil.copy(data_dir() / "breakers.toml", copy / "breakers.toml")
    for name in ("catalog.py", "explain.py"):
        shutil.copy(Path(explain.__file__).parent / name, code / name)
    assert catalog_sha256(copy, code) == catalog_sha256()
    with open(copy / "breakers.toml", "a") as fh:
        fh.write("\n")
    assert catalog_sha256(copy, code) != catalog_sha256()
    shutil.copy(data_dir() / "breakers.toml", copy / "breakers.toml")
    with open(code / "explain.py", "a") as fh:  # the code that reads the catalog is frozen with it
        fh.write("\n")
    assert catalog_sha256(copy, code) != catalog_sha256()


def test_the_freeze_is_recorded() -> None:
    text = (HELDOUT / "FREEZE").read_text()
    assert re.search(r'^sha256 = "[0-9a-f]{64}"$', text, re.M) and re.search(r"^date = ", text, re.M)


def test_no_heldout_excerpt_comes_from_an_in_sample_thread() -> None:
    inside = {s["url"] for s in samples(sorted(CORPUS.glob("*.toml")))}
    held = samples(sorted(HELDOUT.glob("*.toml")))
    assert not {s["url"] for s in held} & inside
    for s in held:
        assert s["url"].startswith(("https://", "http://")) and s["cause"].strip() and s["text"].strip()


def _first_commit(path: Path) -> str | None:
    out = process.run(["git", "log", "--diff-filter=A", "--format=%H", "--", str(path)], cwd=path.parent)
    commits = out.stdout.split() if out.returncode == 0 else []
    return commits[-1] if commits else None


def _last_commit(path: Path) -> str | None:
    """The commit that last changed `path`: for FREEZE, the current freeze (an earlier freeze wrote it first)."""
    out = process.run(["git", "log", "-1", "--format=%H", "--", str(path)], cwd=path.parent)
    commits = out.stdout.split() if out.returncode == 0 else []
    return commits[0] if commits else None


def test_heldout_excerpts_were_first_committed_after_the_freeze() -> None:
    if shutil.which("git") is None or _last_commit(HELDOUT / "FREEZE") is None:
        pytest.skip("not a git checkout with the freeze committed")
    freeze = _last_commit(HELDOUT / "FREEZE")
    for path in sorted(HELDOUT.glob("*.toml")):
        added = _first_commit(path)
        if added is None:
            continue  # not committed yet
        ancestor = process.run(["git", "merge-base", "--is-ancestor", str(freeze), added], cwd=HELDOUT)
        assert added != freeze and ancestor.returncode == 0, f"{path.name} was not added after the freeze"
