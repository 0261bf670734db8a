"""envdoctor models: verify MuseTalk's weight files by sha256, fetch (or repair) them from their pinned sources."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from envdoctor.errors import UsageError
from envdoctor.models import manifest as manifest_mod
from envdoctor.models.manifest import VERSIONS, Manifest, ModelFile, Roots
from envdoctor.report import models_json, models_text

HELP = """\
Every file MuseTalk loads, from one manifest: where it comes from (a Hugging Face repository at a pinned
revision, or a URL), where it goes (under models/, or torch hub's cache for the S3FD detector), its size and
sha256. huggingface_hub downloads, in envdoctor's own environment: nothing is installed into MuseTalk's.

examples:
  envdoctor models verify --models ~/MuseTalk/models          every file by sha256 (remembered: a repeat is a stat)
  envdoctor models fetch --models ~/MuseTalk/models           what v1.5 inference needs, resumable
  envdoctor models fetch --models models --repair             replace only the files that fail
  envdoctor models fetch --models models --endpoint https://hf-mirror.com
  envdoctor models fetch --models models --from ~/Downloads   files already downloaded (flat, or a hub cache)

exit codes: 0 every file in place and verified; 1 a file missing, wrong or not fetched; 2 usage or internal error.
"""

PURPOSES = ("inference", "app", "training")


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "models",
        help="verify MuseTalk's weight files by sha256; fetch or repair them",
        description=HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.set_defaults(func=lambda _args: parser.print_help() or 2)
    actions = parser.add_subparsers(dest="models_command", metavar="ACTION", parser_class=type(parser))

    verify = actions.add_parser("verify", help="every file by sha256; names what a wrong file is")
    _common(verify)
    verify.add_argument("--all", action="store_true", help="every file of the manifest (v1.0 and training too)")
    verify.set_defaults(func=_verify)

    fetch = actions.add_parser("fetch", help="download what is missing, verified before it is placed")
    _common(fetch)
    fetch.add_argument("--endpoint", metavar="URL", help="a Hub mirror (default: $HF_ENDPOINT, else huggingface.co)")
    fetch.add_argument("--from", dest="from_dir", metavar="DIR", help="take files from this folder instead")
    fetch.add_argument("--repair", action="store_true", help="also replace files that are there but wrong")
    fetch.set_defaults(func=_fetch)


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--models", metavar="DIR", default="models", help="MuseTalk's models/ folder (default: ./models)")
    p.add_argument("--torch-home", metavar="DIR", help="torch hub's folder (default: $TORCH_HOME, else ~/.cache/torch)")
    p.add_argument("--version", choices=VERSIONS, default="v15", help="MuseTalk's model version (default: v15)")
    p.add_argument(
        "--for", dest="purpose", choices=PURPOSES, default="inference", help="the entry point (default: inference)"
    )
    p.add_argument("--json", action="store_true", help="print the result as JSON")


def _roots(args: argparse.Namespace) -> Roots:
    return Roots(Path(args.models), Path(args.torch_home) if args.torch_home else manifest_mod.torch_home())


def _files(args: argparse.Namespace, manifest: Manifest) -> tuple[ModelFile, ...]:
    if getattr(args, "all", False):
        return manifest.files
    try:
        return manifest.for_purpose(args.purpose, args.version)
    except KeyError:
        raise UsageError(f"The manifest has no files for --for {args.purpose} --version {args.version}.") from None


def _verify(args: argparse.Namespace) -> int:
    from envdoctor.models.verify import verify

    roots = _roots(args)
    if not roots.models.is_dir():
        raise UsageError(f"--models {roots.models} is not a folder.")
    manifest = manifest_mod.active()
    verdicts = verify(manifest, _files(args, manifest), roots)
    code = 0 if all(v.ok for v in verdicts) else 1
    if args.json:
        print(json.dumps(models_json.verify_document(verdicts, exit_code=code), indent=2))
    else:
        print(models_text.verify(verdicts))
    return code


def _fetch(args: argparse.Namespace) -> int:
    from envdoctor.models.fetch import fetch
    from envdoctor.report.models_progress import Bar

    roots = _roots(args)
    from_dir = Path(args.from_dir) if args.from_dir else None
    if from_dir is not None and not from_dir.is_dir():
        raise UsageError(f"--from {from_dir} is not a folder.")
    if args.endpoint and not args.endpoint.startswith(("http://", "https://")):
        raise UsageError(f"--endpoint {args.endpoint} is not an http:// or https:// URL.")
    if roots.models.exists() and not roots.models.is_dir():
        raise UsageError(f"--models {roots.models} is not a folder.")
    manifest = manifest_mod.active()
    report = fetch(
        manifest,
        _files(args, manifest),
        roots,
        endpoint=args.endpoint,
        from_dir=from_dir,
        repair=args.repair,
        sink=Bar() if sys.stderr.isatty() else None,
    )
    code = 0 if report.ok else 1
    if args.json:
        print(json.dumps(models_json.fetch_document(report, exit_code=code), indent=2))
    else:
        print(models_text.fetch(report))
    return code
