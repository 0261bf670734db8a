"""`envdoctor smoke --bench`: the weights (synthetic unless --models), the stage timer, the renderers."""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
from pathlib import Path

from envdoctor.errors import UsageError

BENCH_JSON = "smoke-bench.json"


def run_bench(args: argparse.Namespace, python: Path, out: Path) -> int:
    from rich.console import Console

    from envdoctor.report import bench_png, bench_smoke
    from envdoctor.smoke import bench, bench_app, models, synthetic
    from envdoctor.smoke.runner import check_app

    checkout = check_app(Path(args.app))
    for opt in ("face", "audio"):
        value = getattr(args, opt)
        if value and not Path(value).is_file():
            raise UsageError(f"--{opt} {value} does not exist or is not a file.")
    console = Console(stderr=True)
    cleanup: list[Path] = []
    env: dict[str, str] = {}
    try:
        if args.models and not args.synthetic_weights:
            model_dir = Path(args.models).resolve()
            missing = models.missing_files(model_dir)
            if missing:
                raise UsageError(
                    f"{model_dir} lacks MuseTalk's weights ({', '.join(missing[:3])}): point --models at "
                    "them, or leave --models out to time synthetic weights."
                )
        else:
            # Random weights cost the same arithmetic as the real ones: the timing needs no download.
            model_dir = Path(tempfile.mkdtemp(prefix="envdoctor-synthetic-models-"))
            cleanup.append(model_dir)
            console.print(f"writing synthetic weights into {model_dir} (random, in MuseTalk's formats; removed after)")
            built = synthetic.build(python, checkout, model_dir, timeout=args.timeout)
            console.print(built.summary())
            if not built.ok:
                raise bench_app.BenchFailed(built.summary() + ".")
            env.update(built.env)
        with console.status("timing MuseTalk's stages ..."):
            run = bench_app.run_bench(
                python,
                checkout,
                models=model_dir,
                face=Path(args.face) if args.face else None,
                audio=Path(args.audio) if args.audio else None,
                seconds=args.seconds or bench_app.DEFAULT_SECONDS,
                device=args.device,
                fp16=args.fp16,
                batch_size=args.batch_size,
                passes=args.passes,
                timeout=args.timeout,
                env=env,
            )
    finally:
        for path in cleanup:
            shutil.rmtree(path, ignore_errors=True)
    verdict = bench.verdict(run)
    doc = bench_smoke.document(run, verdict)
    out.mkdir(parents=True, exist_ok=True)
    (out / BENCH_JSON).write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    png: Path | None = None
    try:
        png = bench_png.write_chart(run, verdict, out / bench_png.BENCH_PNG)
    except ImportError:
        console.print("note: no PNG: matplotlib is not installed (pip install 'envdoctor[verify]')")
    if args.json:
        print(json.dumps(doc, indent=2))
    else:
        bench_smoke.render(run, verdict, Console())
        print(f"report: {out / BENCH_JSON}" + (f" and {png}" if png else ""))
    # It ran: the verdict (real time or not) is information, not a failure.
    return 0
