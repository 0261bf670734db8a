"""`envdoctor smoke`: run MuseTalk (--app) or its heavy libraries (--deps) and judge the result."""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from envdoctor.commands._common import add_target_args, resolve_target
from envdoctor.errors import UsageError
from envdoctor.outdir import check_writable

if TYPE_CHECKING:
    from rich.console import Console

DEFAULT_OUT = "envdoctor-smoke"
DWPOSE_CONFIG = "rtmpose-l_8xb32-270e_coco-ubody-wholebody-384x288.py"


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "smoke",
        help="run MuseTalk itself and prove from its video that lip-sync comes out (or --deps: forward passes)",
        description=(
            "--app DIR: run MuseTalk's own `python -m scripts.inference` in the target environment from the "
            "checkout, on a built-in face (scikit-image's astronaut) and a spoken sentence shipped with envdoctor "
            "(no espeak-ng needed) unless --face/--audio are given, then judge the video it wrote (never its exit "
            "code) with `envdoctor verify`. "
            "On real weights, every file v1.5 inference loads (under --models, and S3FD in torch hub's cache) is "
            "checked by sha256 first, as `envdoctor models verify` does: a missing or wrong file is named, with the "
            "`envdoctor models fetch` command that places it, and MuseTalk is not started. "
            "--synthetic-weights builds a stand-in models/ tree of random weights first, so every code path runs "
            "without the 4 GB download (lip-sync is then not assessed). "
            "--deps: one small real forward pass through each heavy library MuseTalk uses, with time and memory. "
            "--bench (with --app): time MuseTalk's own stages per frame as its realtime script runs them (whisper, "
            "UNet, VAE decode, blending; the avatar's one-time preparation apart), with peak memory, and say "
            "whether this machine keeps up with the video's fps and the maintainers' figure; synthetic weights "
            "unless --models is given (the arithmetic is the same). "
            "Writes smoke-report.json (and smoke-report.png) into --out; --bench writes smoke-bench.json/png."
        ),
    )
    p.add_argument("--app", metavar="DIR", help="a MuseTalk checkout (the folder holding scripts/inference.py)")
    p.add_argument(
        "--deps",
        action="store_true",
        help="forward passes through each heavy library (no checkout needed; with --app, DWPose uses its config)",
    )
    p.add_argument(
        "--bench",
        action="store_true",
        help="with --app: ms per frame and peak memory of each MuseTalk stage, and a real-time verdict",
    )
    p.add_argument("--batch-size", type=int, default=8, metavar="N", help="for --bench: MuseTalk's batch size")
    p.add_argument(
        "--fp16",
        choices=("auto", "on", "off"),
        default="auto",
        help="for --bench: halve the networks as the realtime script does (auto: on CUDA only)",
    )
    p.add_argument(
        "--passes", type=int, default=4, metavar="N", help="for --bench: passes over the speech, the first a warm-up"
    )
    p.add_argument("--dwpose-config", metavar="FILE", help="for --deps: the DWPose config to build (default: found)")
    p.add_argument("--models", metavar="DIR", help="the weights folder (default DIR/models)")
    p.add_argument("--face", metavar="FILE", help="face image or video (default: the astronaut)")
    p.add_argument(
        "--audio", metavar="FILE", help="speech to lip-sync (default: a 6.7 s English sentence shipped with envdoctor)"
    )
    p.add_argument("--seconds", type=float, metavar="S", help="cut the speech to S seconds (fewer frames to make)")
    p.add_argument(
        "--synthetic-weights",
        action="store_true",
        help="write a stand-in models/ tree of random weights (into a temporary folder) and run on it",
    )
    p.add_argument("--timeout", type=float, default=1800.0, metavar="S", help="stop MuseTalk after S seconds")
    p.add_argument(
        "--device", choices=("auto", "cpu", "cuda"), default="auto", help="for --deps and --bench (default auto)"
    )
    p.add_argument("--out", metavar="DIR", default=DEFAULT_OUT, help=f"where the report goes (default ./{DEFAULT_OUT})")
    p.add_argument("--json", action="store_true", help="print the report as JSON instead of text")
    add_target_args(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if not args.app and not args.deps:
        raise UsageError("Say what to smoke: --app DIR (run MuseTalk) or --deps (forward passes).")
    if args.bench and not args.app:
        raise UsageError("--bench times MuseTalk's stages: give the checkout with --app DIR.")
    if args.bench and (args.batch_size < 1 or args.passes < 2):
        raise UsageError("--batch-size must be at least 1 and --passes at least 2 (one warm-up, one measured).")
    out = check_writable(Path(args.out))
    target = resolve_target(args)
    if args.deps:
        return _run_deps(args, target.python, out)
    if args.bench:
        from envdoctor.commands._smoke_bench import run_bench

        return run_bench(args, target.python, out)
    return _run_app(args, target.python, out)


def _run_deps(args: argparse.Namespace, python: Path, out: Path) -> int:
    from rich.console import Console

    from envdoctor.report import smoke as report
    from envdoctor.smoke import deps

    config = Path(args.dwpose_config) if args.dwpose_config else None
    if config is None and args.app:
        config = Path(args.app) / "musetalk" / "utils" / "dwpose" / DWPOSE_CONFIG
        if not config.is_file():
            raise UsageError(f"{args.app} has no {DWPOSE_CONFIG} under musetalk/utils/dwpose/.")
    if config is not None and not config.is_file():
        raise UsageError(f"--dwpose-config {config} does not exist.")
    console = Console(stderr=True)
    with console.status("forward passes ...") as status:
        result = deps.run_deps(
            python,
            out,
            device=args.device,
            timeout=args.timeout,
            dwpose_config=config,
            on_pass=lambda name: status.update(f"forward pass: {name}"),
        )
    if args.json:
        print(json.dumps(deps.deps_document(result), indent=2))
    else:
        report.print_deps(result)
        print(f"report: {out / 'smoke-report.json'}")
    return 0 if result.success else 1


def _run_app(args: argparse.Namespace, python: Path, out: Path) -> int:
    cleanup: list[Path] = []
    try:
        return _run_app_in(args, python, out, cleanup)
    finally:
        for path in cleanup:
            shutil.rmtree(path, ignore_errors=True)


def _stopped_before_musetalk(out: Path, console: Console, as_json: bool, message: str, extra: dict[str, Any]) -> int:
    """A run that ends before MuseTalk starts (synthetic weights not written, real ones failing their sha256):
    the report is written and said like every other result, exit 1."""
    from envdoctor.smoke import record

    record.write_report(out, success=False, output_path=None, message=message, verification=None,
                        extra={"mode": "app", **extra})  # fmt: skip
    if as_json:
        print((out / record.REPORT_JSON).read_text())
    else:
        console.print(f"[bold red]FAIL[/]: {message}", soft_wrap=True)
        print(f"report: {out / record.REPORT_JSON}")
    return 1


def _run_app_in(args: argparse.Namespace, python: Path, out: Path, cleanup: list[Path]) -> int:
    from rich.console import Console

    from envdoctor.report import smoke as report
    from envdoctor.smoke import app as app_mod
    from envdoctor.smoke import inputs, models, preflight, record
    from envdoctor.smoke.runner import check_app
    from envdoctor.verify import media
    from envdoctor.verify.verify import MissingExtra, require_extra

    checkout = check_app(Path(args.app))
    for opt in ("face", "audio"):
        value = getattr(args, opt)
        if value and not Path(value).is_file():
            raise UsageError(f"--{opt} {value} does not exist or is not a file.")
    try:
        require_extra()
    except MissingExtra as exc:  # the same error (its code), said as what the command could not do
        raise MissingExtra(f"cannot judge the video: {exc}.") from None
    # Inputs, tools and disk, checked before anything heavy (one sentence listing every problem).
    pre = preflight.check(
        python,
        face=Path(args.face) if args.face else None,
        audio=Path(args.audio) if args.audio else None,
        synthetic_weights=args.synthetic_weights,
        weights_dir=Path(tempfile.gettempdir()),
    )
    console = Console(stderr=True)
    model_dir = Path(args.models).resolve() if args.models else checkout / "models"
    env: dict[str, str] = {}
    weights_doc: dict[str, Any] | None = None
    seconds = args.seconds
    if args.synthetic_weights:
        from envdoctor.smoke import synthetic

        # About 4 GB, useless once the run is over: a temporary folder, removed afterwards.
        model_dir = Path(tempfile.mkdtemp(prefix="envdoctor-synthetic-models-"))
        cleanup.append(model_dir)
        console.print(f"writing synthetic weights into {model_dir} (random, in MuseTalk's formats; removed after)")
        built = synthetic.build(python, checkout, model_dir, timeout=args.timeout, face_size=pre.face_size)
        console.print(built.summary())
        if not built.ok:
            return _stopped_before_musetalk(
                out, console, args.json, built.summary(), {"synthetic_weights": True, "synthetic": built.to_dict()}
            )
        env.update(built.env)
        if seconds is None:
            seconds = synthetic.DEFAULT_SECONDS
            console.print(f"speech cut to {seconds:g} s: synthetic weights cost the same time per frame as real ones")
    else:
        # Real weights: each file by sha256 before MuseTalk loads it (a repeat costs a stat per file), so a
        # missing or damaged file is named here, not found as a traceback deep in the run.
        with console.status("checking MuseTalk's weights by sha256 ..."):
            weights = models.check_weights(model_dir)
        if not weights.ok:
            return _stopped_before_musetalk(
                out, console, args.json, weights.sentence(), {"synthetic_weights": False, "weights": weights.to_dict()}
            )
        console.print(weights.sentence())
        weights_doc = weights.to_dict()
    try:
        with console.status("starting MuseTalk ...") as status:

            def show(line: str) -> None:
                status.update(f"MuseTalk: {line.strip()[:110]}")

            result = app_mod.smoke_app(
                python,
                checkout,
                out,
                models=model_dir,
                face=Path(args.face) if args.face else None,
                audio=Path(args.audio) if args.audio else None,
                seconds=seconds,
                timeout=args.timeout,
                synthetic_weights=args.synthetic_weights,
                env=env,
                on_line=show,
                weights=weights_doc,
            )
    except (inputs.InputError, media.MediaError) as exc:
        raise type(exc)(f"cannot make the smoke inputs: {exc}") from None
    if args.json:
        print((out / record.REPORT_JSON).read_text())
    else:
        for note in result.run.notes:
            console.print(f"note: {note}")
        if result.verification is not None:
            report.print_verification(result.verification, console)
        colour = "green" if result.success else "red"
        console.print(f"[bold {colour}]{'PASS' if result.success else 'FAIL'}[/]: {result.message}")
        print(f"report: {result.report_path}")
    return 0 if result.success else 1
