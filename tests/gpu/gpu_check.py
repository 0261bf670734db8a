"""The GPU check, for a machine with an NVIDIA GPU: one table of what envdoctor can only prove there.

    python tests/gpu/gpu_check.py --venv DIR [--app MUSETALK_CHECKOUT] [--device cuda] [--out DIR]

DIR is an environment `envdoctor fix` made with a compiled mmcv (e.g. the CUDA wheel of
tests/cudakit.py, installed with `fix --find-links` or `--wheel-index`). Self-contained and offline: it
runs envdoctor from this checkout (run it with the Python that has envdoctor's own dependencies, e.g.
the tool environment `make install` makes) and the target's own torch; nothing is downloaded. Rows:

- check's GPU rows (gpu.*): the driver, torch's archs, and the archs mmcv's `_ext` holds for each GPU;
- mmcv's compiled ops on CUDA tensors equal the CPU ones on the same inputs (nms, roi_align), timed;
- `smoke --deps` on the device: DWPose through real mmpose, the UNet, the VAE, whisper, ffmpeg;
- with --app, `smoke --bench` on synthetic weights: frames per second of MuseTalk's realtime loop.

`--device cpu` runs every row on the CPU: the script's own proof on a machine without a GPU (the slow
CUDA build test runs it so). Exit 0 when every row passes, 1 otherwise. The table also goes to
OUT/gpu-check.json.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TypeVar

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from envdoctor import checkrun  # noqa: E402  (the checkout's envdoctor, whatever is installed)
from envdoctor import target as target_mod  # noqa: E402
from envdoctor.checks.base import Status  # noqa: E402
from envdoctor.inside import run_json  # noqa: E402
from envdoctor.smoke import bench, bench_app, synthetic  # noqa: E402
from envdoctor.smoke.deps import run_deps  # noqa: E402

T = TypeVar("T")

# The compiled ops on `device` against the same ops on the CPU, on the same inputs; timed on the device.
OPS = """
import json, sys, time, torch, mmcv._ext as ext
device = sys.argv[1]
gen = torch.Generator().manual_seed(0)
xy = torch.rand(500, 2, generator=gen) * 200
boxes = torch.cat([xy, xy + 5 + torch.rand(500, 2, generator=gen) * 40], 1)
scores = torch.rand(500, generator=gen)
feat = torch.rand(2, 16, 64, 64, generator=gen)
rois = torch.cat([torch.randint(0, 2, (64, 1), generator=gen).float(), boxes[:64] / 4], 1)

def sync():
    if device == "cuda":
        torch.cuda.synchronize()

def timed(fn, n=20):
    fn(); sync()
    t = time.perf_counter()
    for _ in range(n):
        out = fn()
    sync()
    return out, (time.perf_counter() - t) / n * 1000

def roi_align(d):
    shape = (64, 16, 7, 7)
    out = torch.zeros(shape, device=d)
    ay, ax = torch.zeros(shape, device=d), torch.zeros(shape, device=d)
    ext.roi_align_forward(feat.to(d), rois.to(d), out, ay, ax, aligned_height=7, aligned_width=7,
                          spatial_scale=1.0, sampling_ratio=2, pool_mode=1, aligned=True)
    return out

rows = {}
cpu_keep = ext.nms(boxes, scores, iou_threshold=0.5, offset=0)
dev_keep, ms = timed(lambda: ext.nms(boxes.to(device), scores.to(device), iou_threshold=0.5, offset=0))
rows["nms"] = {"equal": sorted(cpu_keep.tolist()) == sorted(dev_keep.cpu().tolist()), "kept": len(cpu_keep), "ms": ms}
cpu_out = roi_align("cpu")
dev_out, ms = timed(lambda: roi_align(device))
diff = float((cpu_out - dev_out.cpu()).abs().max())
rows["roi_align"] = {"equal": diff < 1e-4, "max_diff": diff, "ms": ms}
print(json.dumps({"device": device, "cuda": torch.cuda.is_available(), "rows": rows,
                  "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None}))
"""


@dataclass(frozen=True)
class Row:
    check: str
    ok: bool
    detail: str
    seconds: float


def _timed(fn: Callable[[], T]) -> tuple[T, float]:
    t = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t


def check_rows(venv: Path) -> list[Row]:
    report, took = _timed(lambda: checkrun.run(target_mod.resolve(venv=str(venv))))
    rows = [
        Row(f"check {r.id}", r.status in (Status.OK, Status.SKIP), f"{r.status.value}: {r.found}", took)
        for r in report.results
        if r.id.startswith("gpu.")
    ]
    failing = [r.id for r in report.failures]
    rows.append(Row("check (all rows)", not failing, f"exit {report.exit_code}; failing: {failing or 'none'}", took))
    return rows


def op_rows(python: Path, device: str) -> list[Row]:
    ran, took = _timed(
        lambda: run_json(
            python, ["-c", OPS, device], what="mmcv's ops on the device", timeout=600, require_exit_zero=True
        )
    )
    got = ran.data
    if device == "cuda" and not got["cuda"]:
        return [Row("ops on cuda", False, "torch sees no CUDA device in this environment", took)]
    rows = []
    for name, r in got["rows"].items():
        extra = f", max diff {r['max_diff']:.2e}" if "max_diff" in r else f", {r['kept']} boxes kept"
        rows.append(Row(f"op {name}: {device} == cpu", bool(r["equal"]), f"{r['ms']:.2f} ms on {device}{extra}", took))
    return rows


def deps_rows(python: Path, device: str, out: Path) -> list[Row]:
    result, took = _timed(lambda: run_deps(python, out / "deps", device=device))
    rows = []
    for p in result.passes:
        memory = f", peak {p.peak_mb:.0f} MiB ({p.memory_kind})" if p.peak_mb is not None else ""
        seconds = p.total_seconds if p.total_seconds is not None else (p.seconds or 0.0)
        rows.append(Row(f"smoke --deps {p.name} on {p.device}", p.status == "ok", f"{p.detail}{memory}", seconds))
    return rows or [Row("smoke --deps", False, "no pass ran", took)]


def bench_rows(python: Path, app: Path, device: str) -> list[Row]:
    with tempfile.TemporaryDirectory(prefix="envdoctor-gpu-check-") as tmp:
        built, took = _timed(lambda: synthetic.build(python, app, Path(tmp) / "models"))
        if not built.ok:
            return [Row("smoke --bench (synthetic weights)", False, built.summary(), took)]
        run, took = _timed(
            lambda: bench_app.run_bench(
                python, app, models=Path(tmp) / "models", seconds=2.0, device=device, passes=3, env=built.env
            )
        )
    v = bench.verdict(run)
    stages = ", ".join(f"{s.name} {s.median_ms:.1f} ms" for s in run.stages)
    return [Row(f"smoke --bench on {device}", v.coverage_ok, f"{v.fps:.1f} fps; {stages}", took)]


def table(rows: list[Row]) -> str:
    width = max(len(r.check) for r in rows)
    lines = [f"{'check':<{width}}  result  seconds  detail"]
    lines += [f"{r.check:<{width}}  {'ok' if r.ok else 'FAIL':<6}  {r.seconds:7.1f}  {r.detail}" for r in rows]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--venv", type=Path, required=True, help="the environment envdoctor fix made")
    parser.add_argument("--app", type=Path, help="a MuseTalk checkout, for the smoke --bench row")
    parser.add_argument("--device", choices=("cuda", "cpu"), default="cuda")
    parser.add_argument("--out", type=Path, default=Path("gpu-check"))
    args = parser.parse_args(argv)
    python = target_mod.resolve(venv=str(args.venv)).python
    args.out.mkdir(parents=True, exist_ok=True)
    rows = [*check_rows(args.venv), *op_rows(python, args.device), *deps_rows(python, args.device, args.out)]
    if args.app:
        rows += bench_rows(python, args.app, args.device)
    print(table(rows))
    (args.out / "gpu-check.json").write_text(json.dumps([asdict(r) for r in rows], indent=2) + "\n")
    return 0 if all(r.ok for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
