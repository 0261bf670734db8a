"""smoke --bench's verdict and advice on recorded stage timings of a GPU profile and a CPU one."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from envdoctor.smoke import bench

PROFILES = Path(__file__).parent / "bench_profiles"


def load(name: str) -> bench.Run:
    return bench.run_from_json(json.loads((PROFILES / name).read_text()))


def test_gpu_profile_is_real_time_for_the_video_but_short_of_the_maintainers_figure() -> None:
    v = bench.verdict(load("gpu_fp32.json"))
    assert v.fps == pytest.approx(1000 / (3.1 + 15.1 + 12.1 + 4.0))
    assert isinstance(v.video, bench.RealTime)
    assert v.video.margin == pytest.approx(v.fps / 25)
    assert isinstance(v.maintainers, bench.NotRealTime)
    assert v.maintainers_device == "NVIDIA Tesla V100"
    assert v.coverage_ok and v.coverage > 0.9


def test_gpu_profile_in_fp32_is_advised_fp16_and_batch_size_not_threads() -> None:
    kinds = {type(a) for a in bench.advise(load("gpu_fp32.json"))}
    assert kinds == {bench.UseFp16, bench.TryBatchSize}


def test_cpu_profile_is_far_from_real_time() -> None:
    v = bench.verdict(load("cpu_fp32.json"))
    assert isinstance(v.video, bench.NotRealTime)
    assert v.video.short_by == pytest.approx(25 / v.fps)
    assert v.video.short_by > 40


def test_cpu_profile_with_an_unused_gpu_and_few_threads_is_told_so() -> None:
    advice = bench.advise(load("cpu_fp32.json"))
    kinds = {type(a) for a in advice}
    assert kinds == {bench.GpuUnused, bench.TryBatchSize, bench.MoreThreads}
    threads = next(a for a in advice if isinstance(a, bench.MoreThreads))
    assert (threads.threads, threads.cores) == (2, 16)


def test_time_no_stage_claims_is_shown_and_low_coverage_fails_the_bar() -> None:
    doc = json.loads((PROFILES / "cpu_fp32.json").read_text())
    run = bench.run_from_json(doc)
    assert run.unclaimed_ms == pytest.approx(1782.0 - run.frame_ms)
    doc["wall_ms"] = [3000.0] * 5
    v = bench.verdict(bench.run_from_json(doc))
    assert not v.coverage_ok
    assert v.unclaimed_ms == pytest.approx(3000.0 - run.frame_ms)


def test_steady_state_is_the_median_and_the_warm_up_is_apart() -> None:
    unet = load("cpu_fp32.json").stage("unet")
    assert unet.median_ms == 901.0
    assert unet.spread_ms == 16.0
    assert unet.warmup_ms not in unet.frame_ms


def test_text_and_json_hold_the_same_numbers() -> None:
    import io

    from rich.console import Console

    from envdoctor.report import bench_smoke

    run = load("cpu_fp32.json")
    v = bench.verdict(run)
    doc = bench_smoke.document(run, v)
    assert doc["schema"] == "envdoctor.smoke.bench" and doc["schema_version"] == 1
    assert [s["median_ms"] for s in doc["stages"]] == [120.0, 901.0, 702.0, 40.0]
    assert doc["video"]["kind"] == "not_real_time" and doc["maintainers"]["device"] == "NVIDIA Tesla V100"
    assert {a["kind"] for a in doc["advice"]} == {"gpu_unused", "batch_size", "threads"}
    buf = io.StringIO()
    bench_smoke.render(run, v, Console(file=buf, width=120))
    text = buf.getvalue()
    assert "901.0" in text and "(no stage)" in text and "not real time" in text and "their figure" in text


def test_the_chart_is_a_png_with_a_bar_per_stage(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    from envdoctor.report import bench_png

    run = load("gpu_fp32.json")
    out = bench_png.write_chart(run, bench.verdict(run), tmp_path / bench_png.BENCH_PNG)
    data = out.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    height = int.from_bytes(data[20:24], "big")
    assert height == int((0.5 * (len(run.stages) + 1) + 1.5) * 100)
