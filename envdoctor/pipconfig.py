"""The package indexes pip's configuration names: how a machine or a company announces its mirror or
its local wheels (pip.conf, PIP_INDEX_URL and friends). uv ignores pip's configuration, so whoever
wants those indexes passes them on explicitly; this reads them through `pip config list`.

`python -m envdoctor.pipconfig --torch-index-args` prints them as `--torch-index URL` arguments (the
Makefile's demo passes them to `envdoctor fix`).
"""

from __future__ import annotations

import shutil
import sys
from dataclasses import dataclass

from envdoctor import process

# pip's environment variables (":env:") win over its files; within the files `install.` is more
# specific than `global.`.
_PRECEDENCE = (":env:", "install", "global")


@dataclass(frozen=True)
class PipIndexes:
    index_url: str | None = None
    extra_index_urls: tuple[str, ...] = ()
    find_links: tuple[str, ...] = ()

    @property
    def index_urls(self) -> tuple[str, ...]:
        return ((self.index_url,) if self.index_url else ()) + self.extra_index_urls


def parse(listing: str) -> PipIndexes:
    """`pip config list` output (lines `section.key='value'`) -> the index settings."""
    values: dict[str, dict[str, str]] = {}
    for line in listing.splitlines():
        name, eq, value = line.partition("=")
        if not eq:
            continue
        section, _, key = name.rpartition(".")
        values.setdefault(key.strip(), {})[section.strip()] = value.strip().strip("'\"")

    def pick(key: str) -> str | None:
        by_section = values.get(key, {})
        return next((by_section[s] for s in _PRECEDENCE if s in by_section), None)

    def many(key: str) -> tuple[str, ...]:
        return tuple((pick(key) or "").split())

    return PipIndexes(
        index_url=pick("index-url"), extra_index_urls=many("extra-index-url"), find_links=many("find-links")
    )


def read(python: str | None = None) -> PipIndexes:
    """pip's index settings, asked of `python -m pip` (default: this interpreter), else pip on PATH.
    Empty when there is no pip or it says nothing."""
    commands = [[python or sys.executable, "-m", "pip"]]
    commands += [[found] for found in (shutil.which("pip3"), shutil.which("pip")) if found]
    for cmd in commands:
        try:
            proc = process.run([*cmd, "config", "list"], timeout=60)
        except (OSError, process.TimeoutExpired):
            continue
        if proc.returncode == 0:
            return parse(proc.stdout)
    return PipIndexes()


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args != ["--torch-index-args"]:
        print("usage: python -m envdoctor.pipconfig --torch-index-args", file=sys.stderr)
        return 2
    print(" ".join(f"--torch-index {url}" for url in read().index_urls))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
