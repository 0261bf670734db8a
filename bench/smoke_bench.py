"""`smoke --bench` on a real MuseTalk checkout, twice, on the same synthetic weights: the numbers of each run
and whether the two runs agree within the noise the machine showed (envdoctor.smoke.bench.runs_agree).

The checkout is $ENVDOCTOR_TEST_MUSETALK (the slow tests' variable); without one the benchmark says so and
stops. MuseTalk's inference dependencies come from the slow test's environment (tests/test_smoke_musetalk.py,
built once with uv). Few frames, because a CPU takes seconds per frame: 0.2 s of the shipped speech
(5 frames at 25 fps) in batches of 2, so each pass holds three batches and has a spread of its own; three
passes, the first the warm-up. The JSON (both runs' documents and the agreement) is written to
$ENVDOCTOR_BENCH_OUT, else .cache/bench/, as smoke-bench-runs.json.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path

from envdoctor.report import bench_smoke
from envdoctor.smoke import bench, bench_app, synthetic

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

SECONDS = 0.2
BATCH_SIZE = 2
PASSES = 3


def main(runs: int = 2) -> None:
    given = os.environ.get("ENVDOCTOR_TEST_MUSETALK", "")
    checkout = Path(given)
    if not given or not (checkout / "scripts" / "inference.py").is_file():
        print("skipped: set ENVDOCTOR_TEST_MUSETALK to a MuseTalk checkout to time its stages")
        return
    from test_smoke_musetalk import app_python

    python = app_python()
    out_dir = Path(os.environ.get("ENVDOCTOR_BENCH_OUT", REPO / ".cache" / "bench"))
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="envdoctor-bench-models-") as tmp:
        t0 = time.perf_counter()
        built = synthetic.build(python, checkout, Path(tmp) / "models")
        if not built.ok:
            raise SystemExit(f"synthetic weights: {built.summary()}")
        print(f"synthetic weights written in {time.perf_counter() - t0:.0f} s")
        timed = []
        for i in range(runs):
            t0 = time.perf_counter()
            run = bench_app.run_bench(
                python,
                checkout,
                models=Path(tmp) / "models",
                seconds=SECONDS,
                batch_size=BATCH_SIZE,
                passes=PASSES,
                env=built.env,
            )
            timed.append(run)
            v = bench.verdict(run)
            stages = "  ".join(f"{s.name} {s.median_ms:.1f} ({s.spread.q1:.1f}-{s.spread.q3:.1f})" for s in run.stages)
            print(f"run {i + 1} ({time.perf_counter() - t0:.0f} s): ms/frame, median (IQR): {stages}")
            passes = bench_smoke.agreement_text(v.passes.frame, "passes")
            print(f"  {v.fps:.3f} fps, coverage {v.coverage:.1%}; {passes}")
    agreed = bench.runs_agree(timed[0], timed[1]) if len(timed) == 2 else None
    if agreed is not None:
        for line in bench_smoke.agreements_text(agreed, "the two runs"):
            print(line)
    doc = {
        "settings": {"seconds": SECONDS, "batch_size": BATCH_SIZE, "passes": PASSES, "synthetic_weights": True},
        "runs": [bench_smoke.document(r, bench.verdict(r)) for r in timed],
        "runs_agree": None if agreed is None else bench_smoke.agreements(agreed),
    }
    path = out_dir / "smoke-bench-runs.json"
    path.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    print(f"written: {path}")
