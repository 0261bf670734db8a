"""Arguments shared by `envdoctor plan` and `envdoctor fix` (their output: report/plan_text.py, plan_json.py)."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from envdoctor.cuda import archs
from envdoctor.errors import UsageError
from envdoctor.sources import Sources, install_sources
from envdoctor.strategies import ALL, Options
from envdoctor.strategies.matrix import wheel_sources


def add_plan_args(parser: argparse.ArgumentParser) -> None:
    g = parser.add_argument_group("strategy")
    g.add_argument(
        "--strategy", choices=[s.name for s in ALL], help="use this strategy (the others are still explained)"
    )
    g.add_argument(
        "--find-links",
        metavar="DIR",
        action="append",
        default=[],
        help="a local wheelhouse: mmcv wheels labelled with their torch (mmcv-2.1.0+pt2.13.0cpu-...whl)",
    )
    g.add_argument(
        "--wheel-index",
        metavar="URL",
        action="append",
        default=[],
        help="a PEP 503 index of labelled wheels you trust (e.g. `envdoctor wheelhouse index` served "
        "over HTTP): mmcv is taken from it when a wheel there fits",
    )
    third = [s.name for s in wheel_sources() if s.third_party]
    g.add_argument(
        "--wheel-source",
        metavar="NAME",
        action="append",
        default=[],
        choices=third,
        help="enable a known third-party wheel source by name (" + ", ".join(third) + "); off by "
        "default: `plan` names the wheel it would take and who builds it",
    )
    g.add_argument(
        "--build",
        action="store_true",
        help="with no wheel for this torch, build mmcv from its sdist into the local wheelhouse (minutes)",
    )
    g.add_argument(
        "--wheelhouse", metavar="DIR", help="where --build puts the wheel (default ~/.cache/envdoctor/wheelhouse)"
    )
    g.add_argument(
        "--cuda-arch",
        metavar="LIST",
        help="with --build on a CUDA torch: the GPU architectures to compile for ('8.0;8.6;9.0+PTX'); "
        "default TORCH_CUDA_ARCH_LIST, else the visible GPUs",
    )
    g.add_argument("--lockfile", metavar="FILE", help="install from this lockfile, not the matching committed one")
    g.add_argument("--resolve", action="store_true", help="ignore the committed lockfiles: resolve the set with uv now")
    g.add_argument("--allow-torch-change", action="store_true", help="let uv replace torch and torchvision")
    w = parser.add_argument_group(
        "where packages come from (the plan checks now that the torch indexes it needs answer)"
    )
    w.add_argument("--index-url", metavar="URL", help="the package index for everything but torch (default PyPI)")
    w.add_argument(
        "--torch-index",
        metavar="URL",
        action="append",
        default=[],
        help="index for torch/torchvision when the target has none (default: uv's --torch-backend auto)",
    )
    w.add_argument(
        "--torch-find-links",
        metavar="DIR",
        action="append",
        default=[],
        help="local folder with torch wheels, for an environment without torch",
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")


def package_sources(args: argparse.Namespace) -> Sources:
    return install_sources(args.index_url, tuple(args.torch_index), tuple(args.torch_find_links))


def options(args: argparse.Namespace) -> Options:
    links = tuple(Path(p) for p in args.find_links)
    for p in links:
        if not p.is_dir():
            raise UsageError(f"--find-links {p} is not a folder.")
    arch, arch_from = _cuda_arch(args.cuda_arch, os.environ.get("TORCH_CUDA_ARCH_LIST"))
    return Options(
        find_links=links,
        wheel_indexes=tuple(_url(u) for u in args.wheel_index),
        wheel_sources=tuple(dict.fromkeys(args.wheel_source)),
        cuda_arch=arch,
        cuda_arch_from=arch_from,
        build=args.build,
        wheelhouse=Path(args.wheelhouse) if args.wheelhouse else None,
        allow_torch_change=args.allow_torch_change,
        strategy=args.strategy,
        lockfile=_lockfile(args.lockfile),
        resolve=args.resolve,
    )


def _cuda_arch(flag: str | None, environ: str | None) -> tuple[str | None, str | None]:
    """(arch list, where it came from): --cuda-arch wins over TORCH_CUDA_ARCH_LIST; None: take the GPUs'."""
    for value, source in ((flag, "--cuda-arch"), (environ, "TORCH_CUDA_ARCH_LIST")):
        if value is None or not value.strip():
            continue
        try:
            parsed = archs.parse(value)
        except archs.ArchRefused as exc:
            raise UsageError(f"{source} {value!r}: {exc}.") from exc
        return ";".join(str(a) for a in parsed), source
    return None, None


def _url(value: str) -> str:
    if not value.startswith(("http://", "https://", "file://")):
        raise UsageError(f"--wheel-index {value} is not a URL (http://, https:// or file://).")
    return value


def _lockfile(value: str | None) -> Path | None:
    if value is None:
        return None
    if not Path(value).is_file():
        raise UsageError(f"--lockfile {value} does not exist.")
    return Path(value).resolve()
