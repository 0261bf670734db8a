"""`envdoctor dockerfile`: a Dockerfile that rebuilds a bundle's locked environment offline, as an image."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from envdoctor.deploy import dockerfile as dockerfile_mod
from envdoctor.report import deploy_dockerfile as render

HELP = """\
Write a Dockerfile for the bundle in DIR (pylock.toml, the hashed requirements.txt, wheels/ with every
locked wheel and envdoctor's own, SHA256SUMS). The image copies the bundle and checks it against
SHA256SUMS, installs envdoctor into an environment of its own and the app's environment beside it with
no index and every hash checked (--no-index --find-links wheels --require-hashes), runs as a non-root
user, and does not build unless `envdoctor check` passes and the environment equals the lock; the same
check is its HEALTHCHECK. The weights are a volume at /app/models, verified by sha256
(`envdoctor models verify`) each time the container starts.

The base image suits the lock: python:X.Y-slim of the lock's Python for CPU, NVIDIA's CUDA runtime image
of torch's CUDA release for GPU (envdoctor/data/docker.toml); the choice is said. Nothing here or in the
build uses the network: `docker build --network none` builds it. Also writes DIR/envdoctor-requirements.txt
(envdoctor and its dependencies with their hashes, resolved offline from DIR/tool and DIR/wheels).

examples:
  envdoctor dockerfile deploy/                            then: docker build --network none -t app deploy/
  envdoctor dockerfile deploy/ --base registry.local/python:3.11-slim
  envdoctor dockerfile deploy/ --check-only packages.rules --check-only imports

exit codes: 0 written; 1 no base image known for the lock's target; 2 usage or an incomplete bundle.
"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "dockerfile",
        help="a Dockerfile that rebuilds a bundle's locked environment offline (non-root, checked, hashed)",
        description=HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("bundle", metavar="DIR", help="the bundle folder (e.g. deploy/)")
    p.add_argument("--base", metavar="IMAGE", help="the base image (default: chosen for the lock's target)")
    p.add_argument("--output", metavar="PATH", help="where the Dockerfile goes (default: DIR/Dockerfile)")
    p.add_argument(
        "--check-only",
        action="append",
        default=[],
        metavar="ID",
        help="gate the build and the HEALTHCHECK on these checks only (`envdoctor check --list-checks`)",
    )
    p.add_argument("--json", action="store_true", help="print the result as JSON (envdoctor.dockerfile v1)")
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    made = dockerfile_mod.generate(
        Path(args.bundle),
        base=args.base,
        output=Path(args.output) if args.output else None,
        check_only=args.check_only,
    )
    print(json.dumps(render.made_json(made), indent=2) if args.json else render.made_text(made))
    return 0
