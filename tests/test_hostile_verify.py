"""`verify` on long clips: frames and speech are streamed, so memory stays bounded and a verdict comes.

The clips come from ffmpeg's own sources (a still face whose brightness swings, a tone whose loudness
swings): one minute is encoded and longer clips join it to itself, so a 30-minute clip is cheap.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

pytest.importorskip("numpy", reason="the verifier needs envdoctor's `verify` extra (numpy)")
pytest.importorskip("skimage", reason="the verifier needs envdoctor's `verify` extra (scikit-image)")
from envdoctor.tools.ffmpeg import own_ffmpeg

if own_ffmpeg() is None:
    pytest.skip("no ffmpeg: put one on PATH or install the test extra (imageio-ffmpeg)", allow_module_level=True)

import clips
import numpy as np
from envkit import run_inside

from envdoctor.smoke import inputs
from envdoctor.verify.face import Box
from envdoctor.verify.verify import mouth_signals

# Real environments, built with uv and run: the outer ring, left out of `make test-fast`.
pytestmark = pytest.mark.envs

LIMIT = 1 << 30  # `ulimit -v 1048576`: the address space of the verifier and the ffmpeg it starts

_VERIFY = """
import json, sys
from envdoctor.verify.verify import verify
r = verify(sys.argv[1])
print(json.dumps({"verdict": r.verdict.value, "frames": r.frames, "reason": r.reason}))
"""


@pytest.fixture(scope="module")
def face(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return inputs.write_face(tmp_path_factory.mktemp("long") / "face.png")


def _verify_limited(clip: Path) -> dict:
    # One BLAS thread: a thread pool's reserved stacks count against the address space whatever the clip.
    env = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    return run_inside(
        sys.executable,
        ["-c", _VERIFY, str(clip)],
        what="the verifier under a 1 GiB address space",
        env=env,
        timeout=3600,
        address_space=LIMIT,
    )


def test_a_clip_gives_a_verdict_under_a_1_gib_address_space(face: Path, tmp_path: Path) -> None:
    clip = clips.long_clip(face, 60, tmp_path / "one-minute.mp4")
    out = _verify_limited(clip)
    assert out["frames"] >= 1499
    assert out["verdict"] in ("SYNCED", "UNSYNCED", "STATIC"), out  # judged to the end, not NOT_ASSESSED


@pytest.mark.slow
def test_a_30_minute_256x256_clip_gives_a_verdict_under_a_1_gib_address_space(face: Path, tmp_path: Path) -> None:
    clip = clips.long_clip(face, 1800, tmp_path / "thirty-minutes.mp4")
    out = _verify_limited(clip)
    assert out["frames"] >= 44_999
    assert out["verdict"] in ("SYNCED", "UNSYNCED", "STATIC"), out


def _gram_opening(crops: np.ndarray) -> np.ndarray:
    """The opening signal the way the verifier computed it before streaming: from the frames x frames
    Gram matrix of the centred crops (exact, but quadratic in the clip's length)."""
    flat = crops.reshape(len(crops), -1).astype(np.float64)
    flat = flat - flat.mean(axis=0, keepdims=True)
    vals, vecs = np.linalg.eigh(flat @ flat.T)
    score = vecs[:, -1] * np.sqrt(max(vals[-1], 0.0))
    return score if np.dot(score, -flat.mean(axis=1)) >= 0 else -score


def test_streamed_mouth_signals_equal_the_gram_matrix_result() -> None:
    rng = np.random.default_rng(7)
    n, h, w = 600, 60, 64
    opening = np.sin(np.arange(n) / 3.0)
    frames = rng.integers(60, 200, size=(n, h, w)).astype(np.float64)
    frames[:, 20:30, 10:40] -= 50 * opening[:, None, None]  # a dark mouth that opens and closes
    frames = np.clip(frames, 0, 255).astype(np.uint8)
    boxes = [Box(4, 6, 44, 30)] * n  # 1320 pixels: kept whole
    batches = [frames[i : i + 77] for i in range(0, n, 77)]
    motion, streamed = mouth_signals(iter(batches), boxes)
    crops = frames[:, 6:36, 4:48]
    expected = _gram_opening(crops)
    assert np.allclose(streamed, expected, rtol=1e-3, atol=1e-2 * np.abs(expected).max())
    ref_motion = np.abs(np.diff(crops.astype(np.float32), axis=0)).mean(axis=(1, 2))
    assert np.allclose(motion, ref_motion, rtol=1e-5)
    # A crop larger than MOUTH_PIXELS is kept as block means: the same signal, up to its scale.
    big = [Box(0, 0, 64, 60)] * n  # 3840 pixels: 2x2 block means
    _, coarse = mouth_signals(frames, big)
    assert np.corrcoef(coarse, _gram_opening(frames))[0, 1] > 0.99
