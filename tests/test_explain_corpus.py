"""The catalog against real reports: every sample in tests/explain_corpus/*.toml (copied from public issue
threads, Q&A pages and logs, each with its source and the cause the thread settled on; the held-out part in
heldout/ is scored, not asserted: tests/test_explain_heldout.py) is explained by the entry of that cause, its
`warnings` are reported as warnings and never as the cause, and a sample whose key is "unknown" gets no
root failure (the line taken for it is quoted instead)."""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from envdoctor.catalog import breakers
from envdoctor.explain import explain_text

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

CORPUS = Path(__file__).parent / "explain_corpus"


def _samples() -> list[dict[str, Any]]:
    return [
        {**row, "file": path.name}
        for path in sorted(CORPUS.glob("*.toml"))
        for row in tomllib.loads(path.read_text(encoding="utf-8"))["sample"]
    ]


SAMPLES = _samples()
KINDS = {b.key: b.kind for b in breakers()}
UNKNOWN = "unknown"


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda s: f"{s['key']}:{s['url'].split('://')[-1]}")
def test_sample_is_explained_by_the_entry_of_its_settled_cause(sample: dict[str, Any]) -> None:
    result = explain_text(sample["text"])
    assert {f.key for f in result.warnings} >= set(sample.get("warnings", ()))
    if sample["key"] == UNKNOWN:
        assert result.root is None, f"answered {result.root.key} for a report no entry knows"
        assert result.root_line is not None
        return
    assert result.root is not None, f"not recognised; root line taken: {result.root_line}"
    assert result.root.key == sample["key"]
    if KINDS[sample["key"]] != "environment":
        # a known non-environment failure is named as such and never explained as an environment one
        assert not result.environment


SOURCES = {"issue", "qa", "blog", "ci-log", "hosted-app"}
"""Kinds of source (docs/explain-corpus.md); a sample without one is from an issue thread."""


def test_every_sample_names_its_source_and_settled_cause() -> None:
    for s in SAMPLES:
        assert s["url"].startswith(("https://", "http://")) and s["cause"].strip() and s["text"].strip(), s["url"]
        assert s.get("source", "issue") in SOURCES, s["url"]
        assert s["key"] in KINDS or s["key"] == UNKNOWN, s["key"]
        assert all(KINDS.get(w) for w in s.get("warnings", ())), s.get("warnings")


def test_every_catalog_entry_has_two_real_samples() -> None:
    counts = Counter(k for s in SAMPLES for k in (s["key"], *s.get("warnings", ())))
    thin = {b.key: counts[b.key] for b in breakers() if counts[b.key] < 2}
    assert not thin, thin


def test_corpus_keeps_negatives() -> None:
    negatives = [s for s in SAMPLES if KINDS.get(s["key"]) != "environment"]
    assert {s["key"] for s in negatives} >= {"gpu-oom", "empty-face-crop", "config-path", UNKNOWN}


def test_no_thread_is_counted_twice() -> None:
    """One excerpt per thread: a later search that finds a thread again adds nothing (docs/explain-corpus.md)."""
    seen: dict[str, str] = {}
    for s in SAMPLES:
        if s["file"].startswith("field-"):
            assert s["url"] not in seen, f"{s['url']} is in {seen[s['url']]} already"
        seen.setdefault(s["url"], s["file"])
