"""`envdoctor-maint`: the commands of envdoctor's own maintainers, apart from the user's CLI.

They write what the repository ships (the lockfile matrix and its README table, the kept `_ext` stubs), or
check it in CI; a user treating an environment never needs them. Each module here exposes
`register(subparsers)` like envdoctor/commands/; the main loop and the error mapping are the CLI's own
(envdoctor.cli.run), so an error reads the same from either entry point.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from envdoctor import cli
from envdoctor.maint import explain_score, lock, stubs

DESCRIPTION = """\
envdoctor-maint: what envdoctor's maintainers run on envdoctor's own repository.

              envdoctor-maint lock --check      the committed lockfiles still match their inputs (CI)
              envdoctor-maint lock --jobs 6     make every cell of the matrix again (make lockfiles)
              envdoctor-maint stubs --check     the kept _ext stubs equal a fresh generation
              envdoctor-maint explain-score --heldout
                                                explain on the report corpus, in-sample and held-out

Treating an environment is `envdoctor` (check, plan, fix, ...), not this.
"""

EPILOG = "Exit codes: 0 ok, 1 findings, 2 usage or internal error. `envdoctor-maint COMMAND --help` for more."


def build_parser() -> argparse.ArgumentParser:
    parser = cli.new_parser("envdoctor-maint", DESCRIPTION, EPILOG)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=type(parser))
    for module in (lock, stubs, explain_score):
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    return cli.run(build_parser(), argv)
