"""smoke --bench's verdict, advice and agreement on recorded stage timings of a GPU profile and a CPU one
(tests/bench_profiles/, three steady passes of 16 frames in batches of 8 each)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from envdoctor.smoke import bench, bench_agree

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
    assert (unet.spread.low, unet.spread.high) == (896.0, 912.0)
    assert (unet.spread.q1, unet.spread.q3) == (899.0, 905.0)
    assert unet.iqr_ms == 6.0
    assert len(unet.frame_ms) == 48
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
    assert [(s["q1_ms"], s["q3_ms"]) for s in doc["stages"]][1] == (899.0, 905.0)
    assert doc["passes"]["kind"] == "agree" and doc["passes"]["stages"]["vae_decode"]["kind"] == "disagree"
    assert doc["offline"]["frame_ms"] == 120.0 + 901.0 + 702.0 + 210.0
    assert doc["video"]["kind"] == "not_real_time" and doc["maintainers"]["device"] == "NVIDIA Tesla V100"
    assert {a["kind"] for a in doc["advice"]} == {"gpu_unused", "batch_size", "threads"}
    buf = io.StringIO()
    bench_smoke.render(run, v, Console(file=buf, width=120))
    text = buf.getvalue()
    assert "901.0" in text and "(no stage)" in text and "not real time" in text and "their figure" in text
    assert "899-905" in text and "896-912" in text  # the IQR and the extremes
    assert "passes agree" in text and "vae_decode: DISAGREE" in text
    assert "scripts/inference.py" in text and "1933.0 ms per output frame" in text


def test_the_chart_is_a_png_with_a_bar_per_stage(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    from envdoctor.report import bench_png

    run = load("gpu_fp32.json")
    out = bench_png.write_chart(run, bench.verdict(run), tmp_path / bench_png.BENCH_PNG)
    data = out.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    height = int.from_bytes(data[20:24], "big")
    # A bar per stage of the loop, one for the time no stage claims, one per offline stage.
    assert height == int((0.5 * (len(run.stages) + 1 + len(run.offline)) + 1.5) * 100)


def test_passes_agree_when_their_medians_are_within_the_widest_spread_of_a_pass() -> None:
    run = load("gpu_fp32.json")
    agreed = bench.passes_agree(run)
    assert isinstance(agreed.frame, bench_agree.Agree)
    # Per pass: the median of its 16 frame totals; the noise the widest within-pass IQR (pass 3: 35.0 vs 34.3).
    assert agreed.frame.medians == pytest.approx((34.45, 34.05, 34.65))
    assert agreed.frame.noise == pytest.approx(0.7)
    assert agreed.frame.gap == pytest.approx(0.6)


def test_a_pass_slower_by_more_than_the_noise_disagrees_and_names_its_stage() -> None:
    doc = json.loads((PROFILES / "gpu_fp32.json").read_text())
    unet = next(s for s in doc["stages"] if s["name"] == "unet")
    unet["passes_ms"][2] = [x + 1.0 for x in unet["passes_ms"][2]]  # the machine got busy in the last pass
    agreed = bench.passes_agree(bench.run_from_json(doc))
    assert isinstance(agreed.frame, bench_agree.Disagree)
    assert agreed.frame.gap > agreed.frame.noise
    stages = dict(agreed.stages)
    assert isinstance(stages["unet"], bench_agree.Disagree)
    assert isinstance(stages["whisper"], bench_agree.Agree)


def test_one_batch_a_pass_leaves_agreement_undetermined() -> None:
    doc = json.loads((PROFILES / "cpu_fp32.json").read_text())
    for s in doc["stages"]:  # every frame of a pass shares one batch's time: no spread inside a pass
        s["passes_ms"] = [[p[0]] * len(p) for p in s["passes_ms"]]
    agreed = bench.passes_agree(bench.run_from_json(doc))
    assert isinstance(agreed.frame, bench_agree.Undetermined)
    assert "--batch-size" in agreed.frame.reason


def test_two_runs_agree_unless_one_is_slower_than_the_noise() -> None:
    doc = json.loads((PROFILES / "cpu_fp32.json").read_text())
    a = bench.run_from_json(doc)
    for s in doc["stages"]:
        s["passes_ms"] = [[x * 1.003 for x in p] for p in s["passes_ms"]]
    assert isinstance(bench.runs_agree(a, bench.run_from_json(doc)).frame, bench_agree.Agree)
    for s in doc["stages"]:
        s["passes_ms"] = [[x * 1.05 for x in p] for p in s["passes_ms"]]
    slower = bench.runs_agree(a, bench.run_from_json(doc))
    assert isinstance(slower.frame, bench_agree.Disagree)
    assert {n for n, x in slower.stages if isinstance(x, bench_agree.Disagree)} >= {"unet", "vae_decode"}


def test_offline_path_is_its_preparation_once_and_its_own_per_frame_cost_apart_from_the_loop() -> None:
    run = load("cpu_fp32.json")
    v = bench.verdict(run)
    assert v.offline is not None
    assert v.offline.prepare_ms == pytest.approx(1490.0 + 345.0)  # face detection and landmarks, VAE encode
    assert v.offline.frame_ms == pytest.approx(120.0 + 901.0 + 702.0 + 210.0)  # the networks, then compose
    assert v.offline.fps == pytest.approx(1000.0 / v.offline.frame_ms)
    assert v.fps == pytest.approx(1000.0 / run.frame_ms)  # the verdict stays the realtime loop's
    doc = json.loads((PROFILES / "cpu_fp32.json").read_text())
    del doc["offline"]
    assert bench.verdict(bench.run_from_json(doc)).offline is None


def test_quartiles_stay_within_the_samples() -> None:
    sp = bench_agree.spread([1.0, 2.0, 3.0, 4.0, 100.0])
    assert (sp.median, sp.q1, sp.q3, sp.low, sp.high) == (3.0, 2.0, 4.0, 1.0, 100.0)
    assert bench_agree.spread([5.0]).iqr == 0.0
