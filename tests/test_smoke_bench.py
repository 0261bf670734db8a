"""`smoke --bench` end to end through the CLI on the stand-in checkout: the stage timer runs the stand-in's
MuseTalk-named functions in a real child interpreter, every stage is timed per frame, the wall time of the
same frames is measured and the verdict comes out of the JSON document."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import standin

from envdoctor.cli import main
from envdoctor.smoke import models


def bench_checkout(root: Path) -> Path:
    app = standin.write_bench_checkout(root / "app")
    for rel in models.required_files():  # placeholders: the stand-in loads no weights
        (app / "models" / rel).parent.mkdir(parents=True, exist_ok=True)
        (app / "models" / rel).write_bytes(b"x")
    return app


def run_json(app: Path, out: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> dict:
    argv = ["smoke", "--bench", "--app", str(app), "--models", str(app / "models"), "--out", str(out)]
    code = main([*argv, "--python", sys.executable, "--json", *extra])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return json.loads(captured.out)


def test_every_stage_is_timed_per_frame_and_the_verdict_comes_out(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    app = bench_checkout(tmp_path)
    doc = run_json(app, tmp_path / "out", capsys, "--batch-size", "4", "--passes", "3")
    assert doc["schema"] == "envdoctor.smoke.bench"
    stages = {s["name"]: s for s in doc["stages"]}
    assert set(stages) == {"whisper", "unet", "vae_decode", "blend"}
    for name, s in stages.items():
        # Three passes: one warm-up, two steady, each of the second of speech's 25 frames.
        assert [len(p) for p in s["passes_ms"]] == [25, 25], name
        # Each fake stage sleeps this long per frame: the timer must give that time to the stage, per frame.
        assert s["median_ms"] >= standin.BENCH_STAGE_SLEEP[name] * 1000.0, name
        assert s["q1_ms"] <= s["median_ms"] <= s["q3_ms"] and s["min_ms"] <= s["q1_ms"] and s["q3_ms"] <= s["max_ms"]
        assert s["warmup_ms"] > 0 and s["peak_ram_mb"] > 0
        assert s["peak_gpu_mb"] is None  # no torch in this interpreter: no GPU
    # Frames share their batch's time: 25 frames in batches of 4 are 7 distinct figures a pass.
    assert len(set(stages["unet"]["passes_ms"][0])) <= 7
    assert doc["passes"]["kind"] in ("agree", "disagree") and set(doc["passes"]["stages"]) == set(stages)
    assert [p["name"] for p in doc["prepare"]] == ["face_detect", "vae_encode", "mask"]
    # The offline script's own step (get_image and its PNG), timed on the last pass's 25 faces.
    compose = doc["offline_stages"][0]
    assert compose["name"] == "compose" and compose["median_ms"] >= standin.BENCH_STAGE_SLEEP["compose"] * 1000.0
    offline = doc["offline"]
    assert offline["script"] == "scripts/inference.py" and doc["loop"] == "scripts/realtime_inference.py"
    shared = sum(stages[n]["median_ms"] for n in ("whisper", "unet", "vae_decode"))
    assert offline["frame_ms"] == pytest.approx(shared + compose["median_ms"])
    assert doc["device"] == "cpu" and doc["batch_size"] == 4
    assert len(doc["wall_ms"]) == 2
    frame_ms = sum(s["median_ms"] for s in stages.values())
    assert doc["fps"] == pytest.approx(1000.0 / frame_ms)
    # The stages account for the wall time of the same frames (the stand-in does nothing else).
    assert doc["coverage"] >= 0.9 and doc["coverage_ok"]
    assert doc["video"]["kind"] in ("real_time", "not_real_time")
    assert doc["maintainers"]["source"] == "MuseTalk's maintainers"
    assert json.loads((tmp_path / "out" / "smoke-bench.json").read_text()) == doc


def test_text_report_shows_the_table_and_the_verdict(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    app = bench_checkout(tmp_path)
    argv = ["smoke", "--bench", "--app", str(app), "--models", str(app / "models"), "--out", str(tmp_path / "o")]
    assert main([*argv, "--python", sys.executable, "--passes", "2"]) == 0
    text = capsys.readouterr().out
    for word in ("whisper", "unet", "vae_decode", "blend", "(no stage)", "steady state:", "their figure", "IQR"):
        assert word in text
    assert (
        "scripts/inference.py" in text
        and "offline only" in text
        and "compose" in text
        and "passes: agreement undetermined" in text
    )
    assert (tmp_path / "o" / "smoke-bench.png").is_file()


def test_a_checkout_the_timer_cannot_run_fails_with_its_reason(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    app = bench_checkout(tmp_path)
    (app / "musetalk" / "utils" / "blending.py").write_text("raise ImportError('no blending here')\n")
    argv = ["smoke", "--bench", "--app", str(app), "--models", str(app / "models"), "--out", str(tmp_path / "o")]
    assert main([*argv, "--python", sys.executable, "--json"]) == 1
    err = json.loads(capsys.readouterr().out)
    assert "no blending here" in json.dumps(err)


def test_bench_without_a_checkout_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["smoke", "--bench", "--python", sys.executable]) == 2
    assert "--app" in capsys.readouterr().err
