"""Time MuseTalk's own stages, the way its realtime script runs them. Runs INSIDE the target, from the checkout.

Usage: python bench_stages.py --face IMG --audio WAV [--device auto|cpu|cuda] [--fp16 auto|on|off]
       [--batch-size N] [--fps F] [--avatar-frames N] [--passes N]
The working directory is the checkout (or a shadow of it whose models/ is the weights folder): MuseTalk
reads its weights from ./models. Prints one JSON object on its last line, the document
envdoctor.smoke.bench.run_from_json reads, or {"error": ...}.

The avatar (face detection and landmarks, VAE encode, the blending mask) is prepared once, as
scripts/realtime_inference.py prepares it, and timed per avatar frame apart ("prepare"). Then the
per-frame loop of that script (whisper features and MuseTalk's positional encoding, UNet, VAE decode,
blending) runs over the whole speech `passes` times: the first pass is the warm-up (kernel selection,
first allocations), the others the steady state. Each frame's figure for a stage is its batch's time over
the batch's frames (the clip's whisper features shared out over every frame of the pass); the wall time of
the same frames is what the stages are held against. Last, the offline script's own per-frame step
(scripts/inference.py's get_image, which parses every frame's face, and the PNG it writes) is timed on
the last pass's faces ("offline"). Imports nothing from envdoctor; Python 3.8+.
"""

import argparse
import json
import os
import resource
import sys
import time
import traceback

try:  # MuseTalk needs torch; a checkout that does not (a test's) still gets timed, on the CPU.
    import torch
except ImportError:
    torch = None

CLEAR_REFS = "/proc/self/clear_refs"
STAGES = ("whisper", "unet", "vae_decode", "blend")


class Meter:
    """Per-stage time, peak RAM and peak GPU memory; CUDA is synchronised so a stage's time is its own."""

    def __init__(self, device):
        self.device = device
        self.cuda = device == "cuda"
        # Writing 5 to clear_refs resets the process's peak RSS (Linux): each stage's peak is then its own.
        self.resettable = os.access(CLEAR_REFS, os.W_OK)
        self.ram = {}
        self.gpu = {}

    def sync(self):
        if self.cuda:
            torch.cuda.synchronize()

    def start(self):
        self.sync()
        if self.resettable:
            try:
                with open(CLEAR_REFS, "w") as fh:
                    fh.write("5")
            except OSError:
                self.resettable = False
        if self.cuda:
            torch.cuda.reset_peak_memory_stats()
        return time.perf_counter()

    def stop(self, name, t0):
        self.sync()
        took = time.perf_counter() - t0
        self.ram[name] = max(self.ram.get(name, 0.0), peak_ram_mb())
        if self.cuda:
            self.gpu[name] = max(self.gpu.get(name, 0.0), torch.cuda.max_memory_allocated() / 2**20)
        return took


def peak_ram_mb():
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux, bytes on macOS
    return peak / 1024.0 / (1024.0 if sys.platform == "darwin" else 1.0)


def pick_device(wanted):
    have = torch is not None and torch.cuda.is_available()
    if wanted == "cuda" and not have:
        raise RuntimeError("--device cuda asked, but torch cannot use a GPU here")
    if wanted == "auto":
        return "cuda" if have else "cpu"
    return wanted


def cuda_present():
    """A GPU the machine has, whether or not torch can use it (the NVIDIA driver's device files)."""
    return os.path.exists("/proc/driver/nvidia/gpus") and bool(os.listdir("/proc/driver/nvidia/gpus"))


def no_grad():
    if torch is None:
        import contextlib

        return contextlib.nullcontext()
    return torch.no_grad()


def load(device, fp16):
    """The models as the realtime script loads them (the checkout's own loaders, MuseTalk's default paths)."""
    from musetalk.utils.audio_processor import AudioProcessor
    from musetalk.utils.face_parsing import FaceParsing
    from musetalk.utils.utils import load_all_model
    from transformers import WhisperModel

    models = os.path.join("models", "musetalkV15")
    vae, unet, pe = load_all_model(
        unet_model_path=os.path.join(models, "unet.pth"),
        unet_config=os.path.join(models, "musetalk.json"),
        device=device,
    )
    if fp16:  # the realtime script always halves; --fp16 off measures fp32 instead
        pe = pe.half()
        vae.vae = vae.vae.half()
        unet.model = unet.model.half()
    pe = pe.to(device)
    vae.vae = vae.vae.to(device)
    unet.model = unet.model.to(device)
    whisper_dir = os.path.join("models", "whisper")
    processor = AudioProcessor(feature_extractor_path=whisper_dir)
    dtype = unet.model.dtype
    whisper = WhisperModel.from_pretrained(whisper_dir)
    whisper = whisper.to(device=device, dtype=dtype).eval()
    whisper.requires_grad_(False)
    return vae, unet, pe, processor, whisper, FaceParsing(), dtype


def prepare(meter, face, frames, vae, fp):
    """The avatar, once: per frame, face detection and landmarks, VAE encode, the blending mask."""
    import cv2
    from musetalk.utils.blending import get_image_prepare_material
    from musetalk.utils.preprocessing import get_landmark_and_bbox

    per = {"face_detect": [], "vae_encode": [], "mask": []}
    avatar = []
    for _ in range(frames):
        t0 = meter.start()
        coords, imgs = get_landmark_and_bbox([face], 0)
        per["face_detect"].append(meter.stop("face_detect", t0))
        if tuple(coords[0]) == (0.0, 0.0, 0.0, 0.0):  # MuseTalk's placeholder: no face found
            raise RuntimeError(f"MuseTalk found no face in {face}")
        x1, y1, x2, y2 = coords[0]
        frame = imgs[0]
        y2 = min(y2 + 10, frame.shape[0])  # v1.5's extra_margin default
        t0 = meter.start()
        crop = cv2.resize(frame[y1:y2, x1:x2], (256, 256), interpolation=cv2.INTER_LANCZOS4)
        latents = vae.get_latents_for_unet(crop)
        per["vae_encode"].append(meter.stop("vae_encode", t0))
        t0 = meter.start()
        mask, crop_box = get_image_prepare_material(frame, [x1, y1, x2, y2], fp=fp, mode="jaw")
        per["mask"].append(meter.stop("mask", t0))
        avatar.append((frame, (x1, y1, x2, y2), latents, mask, crop_box))
    # The realtime script cycles the frames forwards then backwards.
    return avatar + avatar[::-1], per


def one_pass(meter, audio, fps, batch_size, device, dtype, models, avatar):
    """The realtime script's per-frame loop over the whole speech.

    Returns per stage the ms of each frame (a batch's time over its frames; whisper's features for the
    whole clip are shared out over every frame), the wall ms of each frame, and the last generated faces."""
    import cv2
    import numpy as np
    from musetalk.utils.blending import get_image_blending
    from musetalk.utils.utils import datagen

    vae, unet, pe, processor, whisper = models
    wall0 = time.perf_counter()
    t0 = meter.start()
    features, length = processor.get_audio_feature(audio, weight_dtype=dtype)
    chunks = processor.get_whisper_chunk(features, device, dtype, whisper, length, fps=fps)
    clip_s = meter.stop("whisper", t0)
    timesteps = torch.tensor([0], device=device) if torch is not None else [0]
    latents = [a[2] for a in avatar]
    batches = []  # (frames, {stage: seconds}, wall seconds)
    faces = []
    idx = 0
    # datagen moves a short last batch to its `device` argument, "cuda:0" unless told: tell it (the
    # offline script does; the realtime script relies on the default, so on a CPU its last batch fails).
    for whisper_batch, latent_batch in datagen(chunks, latents, batch_size, device=device):
        b0 = time.perf_counter()
        took = {}
        t0 = meter.start()
        feats = pe(whisper_batch.to(device))
        took["whisper"] = meter.stop("whisper", t0)
        t0 = meter.start()
        latent_batch = latent_batch.to(device=device, dtype=unet.model.dtype)
        pred = unet.model(latent_batch, timesteps, encoder_hidden_states=feats).sample
        took["unet"] = meter.stop("unet", t0)
        t0 = meter.start()
        recon = vae.decode_latents(pred.to(device=device, dtype=vae.vae.dtype))
        took["vae_decode"] = meter.stop("vae_decode", t0)
        t0 = meter.start()
        for res in recon:
            frame, (x1, y1, x2, y2), _, mask, crop_box = avatar[idx % len(avatar)]
            res = cv2.resize(res.astype(np.uint8), (x2 - x1, y2 - y1))
            get_image_blending(frame.copy(), res, [x1, y1, x2, y2], mask, crop_box)
            faces.append((idx, res))
            idx += 1
        took["blend"] = meter.stop("blend", t0)
        batches.append((len(recon), took, time.perf_counter() - b0))
    wall = time.perf_counter() - wall0
    frames = sum(b[0] for b in batches)
    if frames == 0:
        return 0, {}, [], faces
    per = {name: [] for name in STAGES}
    walls = []
    # What the loop spent outside the batches (the clip's features, datagen) is shared out like whisper's.
    outside = (wall - sum(b[2] for b in batches)) / frames
    for n, took, _ in batches:
        for name in STAGES:
            share = clip_s / frames if name == "whisper" else 0.0
            per[name].extend([(took[name] / n + share) * 1000.0] * n)
    for n, _, bwall in batches:
        walls.extend([(bwall / n + outside) * 1000.0] * n)
    return frames, per, walls, faces


def offline_compose(meter, faces, avatar, fp):
    """The offline script's compositing of each generated face: get_image (face parsing of the frame and
    blending), then the PNG it writes per frame. Returns the ms of each frame."""
    import tempfile

    import cv2
    from musetalk.utils.blending import get_image

    out = []
    with tempfile.TemporaryDirectory(prefix="envdoctor-bench-") as tmp:
        for idx, res in faces:
            frame, (x1, y1, x2, y2), _, _, _ = avatar[idx % len(avatar)]
            t0 = meter.start()
            combined = get_image(frame.copy(), res, [x1, y1, x2, y2], mode="jaw", fp=fp)
            cv2.imwrite(os.path.join(tmp, f"{idx:08d}.png"), combined)
            out.append(meter.stop("compose", t0) * 1000.0)
    return out


def stage_doc(name, warmup_ms, passes_ms, meter):
    return {
        "name": name,
        "warmup_ms": warmup_ms,
        "passes_ms": passes_ms,
        "peak_ram_mb": round(meter.ram.get(name, 0.0), 1),
        "peak_gpu_mb": round(meter.gpu[name], 1) if name in meter.gpu else None,
    }


def mean(xs):
    return sum(xs) / len(xs)


def bench(args):
    sys.path.insert(0, os.getcwd())
    device = pick_device(args.device)
    fp16 = device == "cuda" if args.fp16 == "auto" else args.fp16 == "on"
    threads = torch.get_num_threads() if torch is not None else 1
    meter = Meter(device)
    notes = []
    if not meter.resettable:
        notes.append("peak RAM is the process's peak so far (its counter cannot be reset here)")
    t0 = time.perf_counter()
    with no_grad():
        vae, unet, pe, processor, whisper, fp, dtype = load(device, fp16)
        load_ms = (time.perf_counter() - t0) * 1000.0
        meter.ram["load"] = peak_ram_mb()
        avatar, per = prepare(meter, args.face, args.avatar_frames, vae, fp)
        passes = []
        faces = []
        for _ in range(args.passes):
            frames, times, walls, faces = one_pass(
                meter, args.audio, args.fps, args.batch_size, device, dtype, (vae, unet, pe, processor, whisper), avatar
            )
            if frames == 0:
                raise RuntimeError("MuseTalk made no frames from the speech (too short for its fps)")
            passes.append((frames, times, walls))
        compose = offline_compose(meter, faces, avatar, fp)
    prep = [
        stage_doc(n, per[n][0] * 1000.0, [[x * 1000.0 for x in per[n][1:]] or [per[n][0] * 1000.0]], meter)
        for n in ("face_detect", "vae_encode", "mask")
    ]
    steady = passes[1:]
    notes.append(
        "offline: the networks per frame are the loop's (the same calls); compose is timed on the last pass's "
        "faces; the offline script's final ffmpeg encode is not timed"
    )
    return {
        "device": device,
        "fp16": fp16,
        "batch_size": args.batch_size,
        "video_fps": args.fps,
        "cpu_threads": threads,
        "cpu_cores": os.cpu_count() or 1,
        "cuda_present": cuda_present() or (torch is not None and torch.cuda.is_available()),
        "frames": passes[0][0],
        "load_ms": load_ms,
        "stages": [stage_doc(n, mean(passes[0][1][n]), [p[1][n] for p in steady], meter) for n in STAGES],
        "wall_ms": [mean(p[2]) for p in steady],
        "warmup_wall_ms": mean(passes[0][2]),
        "prepare": prep,
        "offline": [stage_doc("compose", compose[0], [compose[1:] or compose], meter)],
        "notes": notes,
    }


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--face", required=True)
    parser.add_argument("--audio", required=True)
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    parser.add_argument("--fp16", choices=("auto", "on", "off"), default="auto")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--fps", type=int, default=25)
    parser.add_argument("--avatar-frames", type=int, default=3)
    parser.add_argument("--passes", type=int, default=4)
    args = parser.parse_args()
    if args.passes < 2 or args.avatar_frames < 1 or args.batch_size < 1:
        print(json.dumps({"error": "--passes must be at least 2, --avatar-frames and --batch-size at least 1"}))
        return
    try:
        doc = bench(args)
    except Exception as exc:
        traceback.print_exc()
        print(json.dumps({"error": f"{type(exc).__name__}: {exc}"}))
        return
    print(json.dumps(doc))


if __name__ == "__main__":
    main()
