"""One forward pass through one heavy library, the way MuseTalk uses it. Runs INSIDE the target.

Usage: python deps_pass.py NAME --device auto|cpu|cuda --data DIR --speech WAV --work DIR [--dwpose-config F]
Prints one JSON object on its last line: status ok / failed / skipped, times, peak memory, detail.
Imports nothing from envdoctor (the target does not have it); Python 3.8+. One pass per process, so a
crash in one library cannot take the others down and each peak memory is that pass's own.
"""

import argparse
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import time
import traceback
import warnings


class Skip(Exception):
    """The pass cannot run here for a reason that is not a failure of the environment."""


def rss_mb():
    # Linux reports ru_maxrss in KiB, macOS in bytes.
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1024.0 / (1024.0 if sys.platform == "darwin" else 1.0)


def pick_device(wanted):
    import torch

    if wanted == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("--device cuda asked, but torch.cuda.is_available() is False")
    if wanted == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return wanted


def sync(device):
    if device == "cuda":
        import torch

        torch.cuda.synchronize()


def read_wav(path):
    import wave

    import numpy as np

    with wave.open(path, "rb") as w:
        if w.getsampwidth() != 2:
            raise RuntimeError("expected 16-bit PCM speech")
        data = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float32) / 32768.0
        if w.getnchannels() > 1:
            data = data.reshape(-1, w.getnchannels()).mean(axis=1)
        return data, w.getframerate()


def pass_unet(args, device):
    import torch
    from diffusers import UNet2DConditionModel

    with open(os.path.join(args.data, "musetalk-unet-v15.json")) as fh:
        cfg = {k: v for k, v in json.load(fh).items() if not k.startswith("_")}
    t = time.perf_counter()
    model = UNet2DConditionModel(**cfg).to(device).eval()
    built = time.perf_counter() - t
    params = sum(p.numel() for p in model.parameters())
    # MuseTalk: masked + reference latents (8 x 32 x 32 for a 256 crop), timestep 0, 50 Whisper tokens x 384.
    gen = torch.Generator().manual_seed(0)
    latent = torch.randn(1, 8, 32, 32, generator=gen).to(device)
    audio = torch.randn(1, 50, 384, generator=gen).to(device)
    t = time.perf_counter()
    with torch.no_grad():
        out = model(latent, torch.tensor([0], device=device), encoder_hidden_states=audio).sample
    sync(device)
    run = time.perf_counter() - t
    if tuple(out.shape) != (1, 4, 32, 32) or not bool(torch.isfinite(out).all()):
        raise RuntimeError(f"UNet output {tuple(out.shape)} is not a finite 1x4x32x32 latent")
    return built, run, f"UNet2DConditionModel, {params / 1e6:.0f}M parameters, 8x32x32 latent -> {list(out.shape)}"


def pass_vae(args, device):
    import torch
    from diffusers import AutoencoderKL

    with open(os.path.join(args.data, "smoke-architectures.json")) as fh:
        cfg = {k: v for k, v in json.load(fh)["sd_vae"].items() if not k.startswith("_")}
    t = time.perf_counter()
    vae = AutoencoderKL(**cfg).to(device).eval()
    built = time.perf_counter() - t
    img = torch.rand(1, 3, 256, 256, generator=torch.Generator().manual_seed(0)).to(device) * 2 - 1
    t = time.perf_counter()
    with torch.no_grad():
        latent = vae.encode(img).latent_dist.sample() * vae.config.scaling_factor
        image = vae.decode(latent / vae.config.scaling_factor).sample
    sync(device)
    run = time.perf_counter() - t
    if tuple(latent.shape) != (1, 4, 32, 32) or tuple(image.shape) != (1, 3, 256, 256):
        raise RuntimeError(f"VAE shapes {tuple(latent.shape)} / {tuple(image.shape)}")
    if not bool(torch.isfinite(image).all()):
        raise RuntimeError("VAE decode gave non-finite pixels")
    return built, run, "AutoencoderKL encode 3x256x256 -> 4x32x32, decode -> 3x256x256"


def pass_whisper(args, device):
    import torch
    from transformers import WhisperConfig, WhisperFeatureExtractor, WhisperModel

    with open(os.path.join(args.data, "smoke-architectures.json")) as fh:
        cfg = json.load(fh)["whisper_tiny"]
    t = time.perf_counter()
    model = WhisperModel(WhisperConfig(**cfg)).to(device).eval()
    extractor = WhisperFeatureExtractor(feature_size=cfg["num_mel_bins"])
    built = time.perf_counter() - t
    speech, rate = read_wav(args.speech)
    if rate != 16000:
        raise RuntimeError(f"the speech must be 16 kHz (got {rate})")
    t = time.perf_counter()
    feats = extractor(speech, sampling_rate=16000, return_tensors="pt").input_features.to(device)
    with torch.no_grad():
        out = model.encoder(feats, output_hidden_states=True)
    sync(device)
    run = time.perf_counter() - t
    hidden = out.hidden_states
    if len(hidden) != cfg["encoder_layers"] + 1 or hidden[-1].shape[-1] != cfg["d_model"]:
        raise RuntimeError("unexpected Whisper encoder output")
    seconds = len(speech) / 16000.0
    return (
        built,
        run,
        f"Whisper-tiny encoder on {seconds:.1f} s of speech: {len(hidden)} hidden states of "
        + str(list(hidden[-1].shape)),
    )


def pass_dwpose(args, device):
    import importlib.util

    if importlib.util.find_spec("mmpose") is None:
        raise Skip("neither mmpose nor envdoctor's mmpose-free port is installed (envdoctor fix installs one)")
    port = importlib.util.find_spec("mmpose._envdoctor_mmpose_free") is not None
    import mmpose

    config = args.dwpose_config
    mim = os.path.join(
        os.path.dirname(mmpose.__file__),
        ".mim",
        "configs",
        "wholebody_2d_keypoint",
        "rtmpose",
        "ubody",
        "rtmpose-l_8xb32-270e_coco-ubody-wholebody-384x288.py",
    )
    if not config:
        # Real mmpose resolves the config's registry scopes itself and ships this config; the port
        # reads envdoctor's own description of the same model.
        config = (
            mim
            if (not port and os.path.isfile(mim))
            else os.path.join(args.data, "dwpose-rtmpose-l-wholebody-384x288.py")
        )
    import numpy as np
    from mmpose.apis import inference_topdown, init_model
    from mmpose.structures import merge_data_samples

    t = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "no checkpoint: random weights" is the point here
        model = init_model(config, None, device=device)
    built = time.perf_counter() - t
    frame = np.full((512, 448, 3), 127, dtype=np.uint8)  # BGR, MuseTalk's whole-frame call, no person box
    t = time.perf_counter()
    merged = merge_data_samples(inference_topdown(model, frame))
    sync(device)
    run = time.perf_counter() - t
    kp = merged.pred_instances.keypoints
    if tuple(kp.shape[1:]) != (133, 2):
        raise RuntimeError(f"DWPose gave keypoints of shape {tuple(kp.shape)}, not (N, 133, 2)")
    face = kp[0][23:91]
    who = "envdoctor's mmpose-free port" if port else "mmpose " + getattr(mmpose, "__version__", "?")
    return built, run, f"DWPose (RTMPose-l wholebody) through {who}: 133 keypoints, {len(face)} face points"


def pass_ffmpeg(args, device):
    # MuseTalk's `ffmpeg` in an activated environment: the environment's bin first, then PATH.
    exe = "ffmpeg.exe" if os.name == "nt" else "ffmpeg"
    inside = os.path.join(os.path.dirname(os.path.abspath(sys.executable)), exe)
    ffmpeg = inside if os.path.isfile(inside) else shutil.which("ffmpeg")
    if not ffmpeg:
        raise RuntimeError("no ffmpeg in the environment's bin or on PATH: MuseTalk calls it to write every video")
    out = os.path.join(args.work, "deps-ffmpeg.mp4")
    w, h, n = 256, 256, 25
    frames = bytearray()
    for i in range(n):
        frames += bytes([(i * 9) % 256, 80, 160]) * (w * h)
    cmd = [
        ffmpeg,
        "-v",
        "error",
        "-nostdin",
        "-y",
        "-f",
        "rawvideo",
        "-pix_fmt",
        "rgb24",
        "-s",
        f"{w}x{h}",
        "-r",
        "25",
        "-i",
        "-",
        "-i",
        args.speech,
        "-map",
        "0:v",
        "-map",
        "1:a",
        "-c:v",
        "libx264",
        "-pix_fmt",
        "yuv420p",
        "-c:a",
        "aac",
        "-shortest",
        out,
    ]
    t = time.perf_counter()
    proc = subprocess.run(cmd, input=bytes(frames), capture_output=True, timeout=120)
    run = time.perf_counter() - t
    if proc.returncode != 0:
        raise RuntimeError("ffmpeg libx264/AAC encode failed: " + proc.stderr.decode(errors="replace").strip()[-300:])
    # ffmpeg's own description of the file (no ffprobe: the PyPI wheel's ffmpeg comes without one).
    probe = subprocess.run([ffmpeg, "-hide_banner", "-nostdin", "-i", out], capture_output=True, timeout=60)
    codecs = sorted(set(re.findall(r"Stream #0:\d+\S*: (?:Video|Audio): (\w+)", probe.stderr.decode(errors="replace"))))
    if codecs != ["aac", "h264"]:
        raise RuntimeError(f"the encoded file holds {codecs}, not h264 + aac")
    return 0.0, run, "ffmpeg {}: 25 frames libx264 + AAC mux -> {}".format(ffmpeg, ",".join(codecs))


PASSES = {"dwpose": pass_dwpose, "unet": pass_unet, "vae": pass_vae, "whisper": pass_whisper, "ffmpeg": pass_ffmpeg}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("name", choices=sorted(PASSES))
    p.add_argument("--device", default="auto")
    p.add_argument("--data", required=True)
    p.add_argument("--speech", required=True)
    p.add_argument("--work", required=True)
    p.add_argument("--dwpose-config", default=None)
    args = p.parse_args()
    result = {
        "name": args.name,
        "status": "ok",
        "device": "cpu",
        "build_seconds": None,
        "seconds": None,
        "peak_mb": None,
        "detail": "",
    }
    t0 = time.perf_counter()
    try:
        device = "cpu"
        if args.name != "ffmpeg":
            try:
                import torch
            except ImportError as exc:
                raise RuntimeError(f"torch does not import: {exc}") from exc
            device = pick_device(args.device)
            if device == "cuda":
                torch.cuda.reset_peak_memory_stats()
        result["device"] = device
        built, run, detail = PASSES[args.name](args, device)
        result.update(build_seconds=round(built, 3), seconds=round(run, 3), detail=detail)
        if device == "cuda":
            import torch

            result["peak_mb"] = round(torch.cuda.max_memory_allocated() / 2**20, 1)
            result["memory_kind"] = "CUDA max_memory_allocated"
        else:
            result["peak_mb"] = round(rss_mb(), 1)
            result["memory_kind"] = "process peak RSS (imports included)"
    except Skip as exc:
        result.update(status="skipped", detail=str(exc))
    except BaseException as exc:
        tb = traceback.format_exc().strip().splitlines()
        result.update(status="failed", detail=f"{type(exc).__name__}: {exc}", traceback=tb[-8:])
    result["total_seconds"] = round(time.perf_counter() - t0, 3)
    sys.stdout.write("\n" + json.dumps(result) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
