"""`envdoctor-maint explain-score`: how often `explain` names the cause a report's thread settled on.

The corpus is tests/explain_corpus/ (method: docs/explain-corpus.md). Its top-level files are the in-sample
part, the catalog was written and tuned on them; heldout/ holds excerpts gathered after the catalog was frozen.
heldout/FREEZE records the sha256 of the catalog's data file at the freeze: a held-out figure is reported only
while the catalog is byte for byte that one, since a catalog changed after its authors saw the held-out
excerpts is no longer measured by them (a new freeze needs a new held-out part). A freeze with no held-out
excerpts yet (they are gathered after it) reports that there is no held-out figure, rather than a figure of
nothing.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from envdoctor import explain
from envdoctor.catalog import ENVIRONMENT, breakers
from envdoctor.errors import EnvdoctorError, UsageError
from envdoctor.explain import explain_text
from envdoctor.resources import data_dir

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

CATALOG_FILES = ("breakers.toml",)
"""The data files the explainer's answers come from (envdoctor/data/)."""
CATALOG_CODE = ("catalog.py", "explain.py")
"""The modules that read them (envdoctor/): a change to either changes the answers as much as the data does."""
UNKNOWN = "unknown"
"""The expected key of a report no entry should answer: not the environment, or never settled."""


class CatalogChanged(EnvdoctorError):
    """The catalog differs from the one frozen for the held-out part."""

    code = "explain-catalog-changed"


@dataclass(frozen=True)
class Miss:
    url: str
    expected: str
    answered: str | None


@dataclass(frozen=True)
class Score:
    """One part of the corpus, scored."""

    part: str
    environment: int
    """Reports whose settled cause is an environment failure."""
    right: int
    """... answered with that cause."""
    wrong: int
    """... answered with another cause."""
    negatives: int
    """Reports whose cause is not the environment, or was never settled."""
    negatives_given_environment: int
    """... answered with an environment cause."""
    misses: tuple[Miss, ...]

    @property
    def unanswered(self) -> int:
        return self.environment - self.right - self.wrong


@dataclass(frozen=True)
class Freeze:
    sha256: str
    date: str


def catalog_sha256(folder: Path | None = None, code: Path | None = None) -> str:
    """sha256 over the catalog's data files and the modules that read them, in CATALOG_FILES then
    CATALOG_CODE order (name, then bytes): the freeze holds the explainer's answers, not the data alone."""
    h = hashlib.sha256()
    for name in CATALOG_FILES:
        h.update(name.encode() + b"\0")
        h.update(((folder or data_dir()) / name).read_bytes())
    for name in CATALOG_CODE:
        h.update(name.encode() + b"\0")
        h.update(((code or Path(explain.__file__).parent) / name).read_bytes())
    return h.hexdigest()


def samples(files: list[Path]) -> list[dict[str, Any]]:
    return [row for path in files for row in tomllib.loads(path.read_text(encoding="utf-8")).get("sample", [])]


def score(part: str, rows: list[dict[str, Any]]) -> Score:
    kinds = {b.key: b.kind for b in breakers()}
    env = right = wrong = neg = neg_env = 0
    misses = []
    for row in rows:
        root = explain_text(row["text"]).root
        answered = root.key if root else None
        # A key the catalog has no entry for is still an environment failure (one it cannot answer), unless
        # it is UNKNOWN: only UNKNOWN and the catalog's non-environment kinds make a negative.
        kind = kinds.get(row["key"], ENVIRONMENT if row["key"] != UNKNOWN else None)
        if kind == ENVIRONMENT:
            env += 1
            if answered == row["key"]:
                right += 1
                continue
            wrong += answered is not None
        else:
            neg += 1
            if root is None or not root.environment:
                continue
            neg_env += 1
        misses.append(Miss(row["url"], row["key"], answered))
    return Score(part, env, right, wrong, neg, neg_env, tuple(misses))


def read_freeze(path: Path) -> Freeze:
    if not path.is_file():
        raise UsageError(f"{path} does not exist: the held-out part has no recorded freeze.")
    doc = tomllib.loads(path.read_text(encoding="utf-8"))
    return Freeze(doc["sha256"], str(doc["date"]))


def heldout_score(folder: Path) -> tuple[Score, Freeze]:
    """The held-out part scored, or CatalogChanged when the catalog is not the frozen one."""
    freeze = read_freeze(folder / "FREEZE")
    now = catalog_sha256()
    if now != freeze.sha256:
        raise CatalogChanged(
            f"the catalog changed since the held-out part was frozen on {freeze.date} (sha256 {freeze.sha256[:12]}, "
            f"now {now[:12]}): its figure would measure a catalog tuned after its excerpts were seen; no held-out "
            "figure is reported (a new freeze needs a new held-out part)."
        )
    return score("held-out", samples(sorted(folder.glob("*.toml")))), freeze


def render(s: Score, freeze: Freeze | None = None, verbose: bool = False) -> str:
    pct = 100 * s.right / s.environment if s.environment else 0.0
    head = f"{s.part}" + (f" (catalog frozen {freeze.date}, sha256 {freeze.sha256[:12]})" if freeze else "")
    if s.environment == 0 and s.negatives == 0:
        # A freeze is committed before its held-out part is gathered: until then there is nothing to score.
        return "\n".join(
            [
                head,
                "  no held-out excerpts yet: there is no held-out figure for this freeze (its held-out part is "
                "gathered after the freeze, committed after it, then scored once)",
            ]
        )
    lines = [
        head,
        f"  environment failures with the settled cause: {s.right}/{s.environment} ({pct:.0f}%)",
        f"  with a wrong cause: {s.wrong}; with no cause: {s.unanswered}",
        f"  reports not of the environment (or never settled) given an environment cause: "
        f"{s.negatives_given_environment}/{s.negatives}",
    ]
    if verbose:
        lines += [f"    {m.url}: expected {m.expected}, answered {m.answered or 'nothing'}" for m in s.misses]
    return "\n".join(lines)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "explain-score",
        help="score `explain` on the report corpus (in-sample, and with --heldout the frozen held-out part)",
        description="Explain every excerpt of the corpus (tests/explain_corpus/*.toml, the in-sample part) and count "
        "the environment failures answered with the cause their thread settled on, those answered with another "
        "cause, and the reports not of the environment (or never settled) answered with an environment cause. "
        "With --heldout, also the held-out part (heldout/*.toml), only while the catalog's sha256 equals the one "
        "heldout/FREEZE recorded; otherwise it refuses (exit 2), as a catalog changed after the held-out excerpts "
        "were gathered is no longer measured by them. Before the held-out excerpts of a freeze are committed it says "
        "that there is no held-out figure yet.",
    )
    p.add_argument("--corpus", metavar="DIR", default="tests/explain_corpus", help="the corpus folder")
    p.add_argument(
        "--heldout", action="store_true", help="also score the held-out part (refused if the catalog changed)"
    )
    p.add_argument("--misses", action="store_true", help="list every report not answered as expected")
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    corpus = Path(args.corpus)
    files = sorted(corpus.glob("*.toml"))
    if not files:
        raise UsageError(f"{corpus} holds no corpus files (*.toml); run from envdoctor's repository or pass --corpus.")
    out = [render(score("in-sample", samples(files)), verbose=args.misses)]
    if args.heldout:
        held, freeze = heldout_score(corpus / "heldout")
        out.append(render(held, freeze, verbose=args.misses))
    print("\n".join(out))
    return 0
