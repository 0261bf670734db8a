"""`envdoctor stub`: generate, install, remove or inspect the mmcv `_ext` stub."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from envdoctor import stub as stub_lib
from envdoctor.commands._common import add_target_args, resolve_target
from envdoctor.envstate.guard import locked
from envdoctor.envstate.journal import unfinished
from envdoctor.errors import UsageError
from envdoctor.outdir import check_writable, check_writable_file
from envdoctor.report import stub_json, stub_text
from envdoctor.stub import kept as kept_lib
from envdoctor.target import Target

EXIT_OK, EXIT_FINDINGS = 0, 1


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "stub",
        help="generate, install or remove the mmcv _ext stub (for mmcv-lite)",
        description=(
            "mmcv-lite has no compiled ops (mmcv._ext), so `import mmcv.ops`, mmdet and mmpose fail. The stub is a\n"
            "generated mmcv/_ext.py with every name mmcv asks for: a few ops computed with torch/torchvision,\n"
            "every other one raising MmcvExtStubError when called. It is installed as its own distribution,\n"
            "mmcv-ext-stub, so that uv tracks it and removes it cleanly."
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.set_defaults(func=lambda _args: parser.print_help() or 2)
    sub = parser.add_subparsers(dest="stub_command", metavar="ACTION", parser_class=type(parser))

    gen = sub.add_parser("generate", help="write mmcv/_ext.py for an mmcv source (folder, sdist, wheel)")
    what = gen.add_mutually_exclusive_group()
    what.add_argument("source", nargs="?", help="an mmcv package folder, source tree, sdist (.tar.gz) or wheel")
    what.add_argument("--mmcv-version", metavar="V", help="download the mmcv V sdist from PyPI and read that")
    gen.add_argument("-o", "--output", metavar="FILE", help="where to write the module (default: stdout)")
    gen.add_argument("--cache", metavar="DIR", help="where downloaded sdists are kept")
    gen.add_argument("--json", action="store_true", help="print a JSON summary instead of text")
    add_target_args(gen)
    gen.set_defaults(func=_generate)

    for name, helptext, func in (
        ("install", "generate the stub from the target's mmcv and install it with uv", _install),
        ("remove", "uninstall the stub (the mmcv-ext-stub distribution) with uv", _remove),
        ("status", "say what the target has in place of mmcv's compiled ops", _status),
    ):
        p = sub.add_parser(name, help=helptext)
        add_target_args(p)
        p.add_argument("--json", action="store_true", help="print JSON instead of text")
        if name in ("install", "remove"):
            p.add_argument(
                "--no-wait",
                action="store_true",
                help="when another envdoctor is changing this environment, refuse instead of waiting",
            )
        if name == "install":
            p.add_argument(
                "--replace-handwritten",
                action="store_true",
                help="move an _ext.py that no package owns out of site-packages (the path is printed), then install",
            )
        p.set_defaults(func=func)


def _generate(args: argparse.Namespace) -> int:
    cache = Path(args.cache) if args.cache else None
    if cache is not None:
        check_writable(cache, "--cache")
    if args.output and args.output != "-":
        check_writable_file(Path(args.output), "--output")
    if args.mmcv_version:
        source: Path = kept_lib.fetch_sdist(args.mmcv_version, cache)
    elif args.source:
        source = Path(args.source)
    else:
        state = stub_lib.status(resolve_target(args))
        if not state.mmcv_dir:
            raise UsageError(f"{state.python} has no mmcv package: pass SOURCE or --mmcv-version.")
        source = Path(state.mmcv_dir)
    t0 = time.perf_counter()
    stub = stub_lib.generate(source)
    seconds = time.perf_counter() - t0
    if args.output and args.output != "-":
        Path(args.output).write_text(stub.text, encoding="utf-8")
    elif not args.json:
        sys.stdout.write(stub.text)
    if args.json:
        print(stub_json.generated(stub, seconds, args.output))
    else:
        print(stub_text.generated(stub, source, seconds, args.output), file=sys.stderr)
    return EXIT_OK


def _status(args: argparse.Namespace) -> int:
    target = resolve_target(args)
    _warn_unfinished(target)
    state = stub_lib.status(target)
    print(stub_json.status(state) if args.json else stub_text.status(state))
    # Exit 1 where mmcv is there but `import mmcv.ops` cannot work as it stands, or the stub is stale.
    broken = state.ext_state in ("missing", "handwritten") or state.stale
    return EXIT_FINDINGS if broken else EXIT_OK


@contextmanager
def _changing(args: argparse.Namespace, command: str) -> Iterator[Target]:
    """The target, held under its lock; refused while an unfinished fix is there."""
    target = resolve_target(args)
    with locked(target.prefix, command, wait=not args.no_wait, say=lambda m: print(m, file=sys.stderr)):
        pending = unfinished(target.prefix)
        if pending is not None:
            raise UsageError(f"{pending.sentence()}.")
        yield target


def _warn_unfinished(target: Target) -> None:
    pending = unfinished(target.prefix)
    if pending is not None:
        print(f"note: {pending.sentence()}.", file=sys.stderr)


def _install(args: argparse.Namespace) -> int:
    with _changing(args, "stub install") as target:
        result = stub_lib.install(target, replace_handwritten=args.replace_handwritten)
    print(stub_json.installed(result) if args.json else stub_text.installed(result))
    return EXIT_OK


def _remove(args: argparse.Namespace) -> int:
    with _changing(args, "stub remove") as target:
        result = stub_lib.remove(target)
    print(stub_json.removed(result) if args.json else stub_text.removed(result))
    return EXIT_OK
