"""Write a stand-in MuseTalk `models/` tree of random weights in the exact formats MuseTalk loads.

Runs INSIDE the target, from the MuseTalk checkout (so that the checkout's own BiSeNet and S3FD
classes and the installed mmpose, or envdoctor's port, build the architectures). Imports nothing
from envdoctor; Python 3.8+. Prints one JSON object on its last line: one entry per file.

Random weights find no face, and MuseTalk skips a frame without one (still exiting 0), so the two
models that place the face are crafted instead of random:
- S3FD: zero convolutions; the coarsest head's class bias says "face" everywhere, the other heads
  say "background". Every frame gets confident boxes (MuseTalk takes the first).
- DWPose: an input-independent network. The backbone ends in a constant map, the head's final
  convolution turns it into one token pattern per group of keypoints (a one-tap kernel at a different
  offset per group: zero padding makes the patterns differ), and the SimCC classifiers are solved by
  least squares so that each group peaks where a face sits in the default image. The layout is
  mirror-symmetric about the image's centre line, because the flip test averages each keypoint with
  its mirrored partner.
"""

import argparse
import json
import os
import sys
import time
import traceback


def save(obj, path):
    import torch

    os.makedirs(os.path.dirname(path), exist_ok=True)
    torch.save(obj, path)
    return os.path.getsize(path)


def tree_size(path):
    total = 0
    for root, _, files in os.walk(path):
        for name in files:
            total += os.path.getsize(os.path.join(root, name))
    return total


# --- plain random models -------------------------------------------------------------------------
def make_unet(args):
    import torch
    from diffusers import UNet2DConditionModel

    with open(args.unet_config) as fh:
        cfg = {k: v for k, v in json.load(fh).items() if not k.startswith("_")}
    torch.manual_seed(0)
    model = UNet2DConditionModel(**cfg)
    path = os.path.join(args.models, "musetalkV15", "unet.pth")
    size = save(model.state_dict(), path)  # a plain state dict, loaded strictly by MuseTalk
    n = sum(p.numel() for p in model.parameters())
    return path, size, f"UNet2DConditionModel state dict, {n / 1e6:.0f}M parameters"


def make_vae(args):
    import torch
    from diffusers import AutoencoderKL

    with open(os.path.join(args.data, "smoke-architectures.json")) as fh:
        cfg = {k: v for k, v in json.load(fh)["sd_vae"].items() if not k.startswith("_")}
    torch.manual_seed(1)
    path = os.path.join(args.models, "sd-vae")
    AutoencoderKL(**cfg).save_pretrained(path, safe_serialization=False)
    return path, tree_size(path), "AutoencoderKL folder (config.json + diffusion_pytorch_model.bin)"


def make_whisper(args):
    import torch
    from transformers import WhisperConfig, WhisperFeatureExtractor, WhisperForConditionalGeneration

    with open(os.path.join(args.data, "smoke-architectures.json")) as fh:
        cfg = json.load(fh)["whisper_tiny"]
    torch.manual_seed(2)
    path = os.path.join(args.models, "whisper")
    # The released file holds the whole seq2seq model (`model.`-prefixed keys); MuseTalk loads
    # WhisperModel from it, which is what this checks.
    WhisperForConditionalGeneration(WhisperConfig(**cfg)).save_pretrained(path, safe_serialization=False)
    WhisperFeatureExtractor(feature_size=cfg["num_mel_bins"]).save_pretrained(path)
    return path, tree_size(path), "whisper-tiny: config.json, pytorch_model.bin, preprocessor_config.json"


def make_face_parsing(args):
    import torch
    from musetalk.utils.face_parsing.model import BiSeNet

    folder = os.path.join(args.models, "face-parse-bisent")
    os.makedirs(folder, exist_ok=True)
    resnet_path = os.path.join(folder, "resnet18-5c106cde.pth")
    # BiSeNet reads its backbone file while it is built: start from an empty one, then write the
    # backbone it built (plus torchvision's classifier keys, which MuseTalk skips) in its place.
    torch.save({}, resnet_path)
    torch.manual_seed(3)
    net = BiSeNet(resnet_path)
    # Random parsing weights may call nothing "skin", and MuseTalk then blends none of the generated
    # mouth into the frame (a static video from a run that worked). The classifier convolutions (those
    # with one output per parsing class) are set to vote for class 1, skin, with every feature.
    classes = 19  # the CelebAMask-HQ classes MuseTalk's masks are written for
    with torch.no_grad():
        for mod in net.modules():
            if isinstance(mod, torch.nn.Conv2d) and mod.out_channels == classes:
                mod.weight.zero_()
                mod.weight[1].fill_(0.01)
                if mod.bias is not None:
                    mod.bias.zero_()
    backbone = net.cp.resnet.state_dict()
    backbone["fc.weight"] = torch.randn(1000, 512) * 0.01
    backbone["fc.bias"] = torch.zeros(1000)
    size = save(backbone, resnet_path)
    size += save(net.state_dict(), os.path.join(folder, "79999_iter.pth"))
    return folder, size, "BiSeNet (the checkout's class, classifiers voting skin) and its resnet18 backbone"


# --- crafted: S3FD -------------------------------------------------------------------------------
def make_s3fd(args):

    import importlib.util

    # Straight from its file: the package around it imports scipy and the detector at import time.
    src = os.path.join("musetalk", "utils", "face_detection", "detection", "sfd", "net_s3fd.py")
    spec = importlib.util.spec_from_file_location("envdoctor_checkout_net_s3fd", src)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    net = module.s3fd()
    state = net.state_dict()
    conf = [k for k in state if k.endswith("mbox_conf.bias")]
    if not conf:
        raise RuntimeError("the checkout's s3fd has no *_mbox_conf layers")
    for value in state.values():
        if value.is_floating_point():
            value.zero_()
    for key in conf:
        bias = state[key]
        if key == conf[-1]:
            bias[-1] = 8.0  # the last channel is "face"; the coarsest head fires everywhere
        else:
            bias[:-1] = 8.0  # background wins, under the 0.05 score the detector even looks at
    path = os.path.join(args.torch_home, "hub", "checkpoints", args.s3fd_name)
    net.load_state_dict(state)
    return path, save(state, path), "S3FD: the coarsest head says face everywhere, the others background"


# --- crafted: DWPose -----------------------------------------------------------------------------
LEFT = list(range(0, 8)) + list(range(17, 22)) + [31, 32] + list(range(36, 42)) + [48, 49, 50, 58, 59, 60, 61, 67]
MIRROR = dict(
    [(i, 16 - i) for i in range(8)]
    + [(17 + i, 26 - i) for i in range(5)]
    + [(31, 35), (32, 34)]
    + [(36, 45), (37, 44), (38, 43), (39, 42), (40, 47), (41, 46)]
    + [(48, 54), (49, 53), (50, 52), (58, 56), (59, 55), (60, 64), (61, 63), (67, 65)]
)
RIGHT = [MIRROR[i] for i in LEFT]
FACE0 = 23  # COCO-WholeBody: the 68 face points are keypoints 23..90

# Where each group sits, as fractions of the image (the default face: the astronaut cropped to 448x512,
# her face on the centre line). MuseTalk's crop: x from the leftmost to the rightmost face point, y from
# point 29 minus (lowest point - point 29) down to the lowest point.
GROUPS = {
    "left": (182 / 448, 150 / 512),
    "right": (266 / 448, 150 / 512),
    "nose28": (0.5, 118 / 512),
    "nose29": (0.5, 132 / 512),
    "nose30": (0.5, 146 / 512),
    "centre": (0.5, 190 / 512),
    "rest": (0.5, 300 / 512),
}
OFFSETS = [(-3, -3), (-3, 3), (3, -3), (3, 3), (-3, 0), (3, 0), (0, -3)]


def keypoint_groups(k):
    groups = ["rest"] * k
    for i in range(68):
        groups[FACE0 + i] = "centre"
    for i in LEFT:
        groups[FACE0 + i] = "left"
    for i in RIGHT:
        groups[FACE0 + i] = "right"
    for i, name in ((28, "nose28"), (29, "nose29"), (30, "nose30")):
        groups[FACE0 + i] = name
    return groups


def target_bins(fx, fy, width, height, input_w, input_h, ratio):
    # The top-down pipeline with no person box: the whole image, padded 1.25, widened or heightened
    # to the model's aspect ratio, mapped onto the input; SimCC bins are input pixels x ratio.
    sw, sh = width * 1.25, height * 1.25
    aspect = input_w / float(input_h)
    if sw > sh * aspect:
        sh = sw / aspect
    else:
        sw = sh * aspect
    u = (fx * width - width / 2.0) / sw * input_w + input_w / 2.0
    v = (fy * height - height / 2.0) / sh * input_h + input_h / 2.0
    return u * ratio, v * ratio


def bumps(centres, bins, sigma=4.0, height=20.0):
    import torch

    grid = torch.arange(bins, dtype=torch.float64)
    return torch.stack([height * torch.exp(-0.5 * ((grid - c) / sigma) ** 2) for c in centres])


def make_dwpose(args):
    import warnings

    import numpy as np
    import torch
    from mmpose.apis import inference_topdown, init_model
    from mmpose.structures import merge_data_samples

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = init_model(args.dwpose_config, None, device="cpu")
    model.eval()
    head = model.head
    k = head.final_layer.out_channels
    bins_x, bins_y = head.cls_x.out_features, head.cls_y.out_features
    input_w, input_h = args.input_size
    ratio = bins_x / float(input_w)
    with torch.no_grad():
        # Backbone: every convolution zero; batch norms pass their bias; the last one puts a
        # constant in channel 0, so the backbone's output ignores the image.
        norms = []
        for mod in model.backbone.modules():
            if isinstance(mod, torch.nn.modules.batchnorm._BatchNorm):
                mod.weight.zero_()
                mod.bias.zero_()
                mod.running_mean.zero_()
                mod.running_var.fill_(1.0)
                norms.append(mod)
            elif isinstance(mod, (torch.nn.Conv2d, torch.nn.Linear)):
                mod.weight.zero_()
                if mod.bias is not None:
                    mod.bias.zero_()
        for name, param in model.backbone.named_parameters():
            if not any(name.endswith(s) for s in ("weight", "bias")):
                param.zero_()
        # The norm that runs last (registration order is not run order: a CSP layer registers its
        # final convolution before its blocks).
        ran = []
        hooks = [m.register_forward_hook(lambda m, i, o: ran.append(m)) for m in norms]
        model.backbone(torch.zeros(1, 3, input_h, input_w))
        for hk in hooks:
            hk.remove()
        if not ran:
            raise RuntimeError("no batch norm ran in the DWPose backbone")
        ran[-1].bias[0] = 4.0
        groups = keypoint_groups(k)
        names = list(GROUPS)
        head.final_layer.weight.zero_()
        head.final_layer.bias.zero_()
        pad = head.final_layer.kernel_size[0] // 2
        for i, g in enumerate(groups):
            dy, dx = OFFSETS[names.index(g)]
            head.final_layer.weight[i, 0, pad + dy, pad + dx] = 1.0
        # The attention path off, its residual on: the tokens pass through unchanged.
        for name, param in head.named_parameters():
            if name.endswith("res_scale.scale") or name.endswith("ln.g"):
                param.fill_(1.0)
            elif name.endswith(".o.weight") or name.endswith(".o.bias"):
                param.zero_()
        captured = {}
        hook = head.gau.register_forward_hook(lambda m, i, o: captured.setdefault("tokens", o))
        model.backbone.eval()
        feats = model.backbone(torch.zeros(1, 3, input_h, input_w))
        head(feats)  # mmpose's head takes the backbone's tuple, the port's its tensor: as the backbone gives
        hook.remove()
        tokens = captured["tokens"][0].double()  # (K, hidden)
        w, h = args.face_size
        places = [target_bins(GROUPS[g][0], GROUPS[g][1], w, h, input_w, input_h, ratio) for g in groups]
        cx, cy = [p[0] for p in places], [p[1] for p in places]
        tx, ty = bumps(cx, bins_x), bumps(cy, bins_y)
        sol_x = torch.linalg.lstsq(tokens, tx).solution
        sol_y = torch.linalg.lstsq(tokens, ty).solution
        head.cls_x.weight.copy_(sol_x.T.float())
        head.cls_y.weight.copy_(sol_y.T.float())
        for lin in (head.cls_x, head.cls_y):
            if lin.bias is not None:
                lin.bias.zero_()
    state = {key: value.detach().clone() for key, value in model.state_dict().items()}
    path = os.path.join(args.models, "dwpose", "dw-ll_ucoco_384.pth")
    size = save({"state_dict": state, "meta": {"envdoctor": "synthetic DWPose weights"}}, path)
    # Check it the way MuseTalk uses it: load the file, run on a frame of the face's size.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check = init_model(args.dwpose_config, path, device="cpu")
    frame = np.full((h, w, 3), 127, dtype=np.uint8)
    kp = merge_data_samples(inference_topdown(check, frame)).pred_instances.keypoints[0][FACE0 : FACE0 + 68]
    x1, x2 = float(kp[:, 0].min()), float(kp[:, 0].max())
    y2, p29 = float(kp[:, 1].max()), float(kp[29][1])
    y1 = max(0.0, p29 - (y2 - p29))
    if not (x2 - x1 > 8 and y2 - y1 > 8 and x1 >= 0 and x2 <= w and y2 <= h):
        raise RuntimeError(
            f"the crafted DWPose gives no usable face box on a {w}x{h} image: x {x1:.0f}-{x2:.0f}, y {y1:.0f}-{y2:.0f}"
        )
    return (
        path,
        size,
        "DWPose ({}): face box x {:.0f}-{:.0f}, y {:.0f}-{:.0f} on {}x{}".format(
            type(model).__module__.split(".")[0], x1, x2, y1, y2, w, h
        ),
    )


STEPS = [
    ("unet", make_unet),
    ("sd-vae", make_vae),
    ("whisper", make_whisper),
    ("face-parse", make_face_parsing),
    ("s3fd", make_s3fd),
    ("dwpose", make_dwpose),
]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--models", required=True)
    p.add_argument("--torch-home", required=True)
    p.add_argument("--data", required=True)
    p.add_argument("--unet-config", required=True)
    p.add_argument("--dwpose-config", required=True)
    p.add_argument("--s3fd-name", required=True)
    p.add_argument("--face-size", type=int, nargs=2, default=(448, 512))
    p.add_argument("--input-size", type=int, nargs=2, default=(288, 384))
    p.add_argument("--only", nargs="*", default=None)
    args = p.parse_args()
    sys.path.insert(0, os.getcwd())  # the checkout: its model classes
    results = []
    for name, step in STEPS:
        if args.only and name not in args.only:
            continue
        t = time.perf_counter()
        try:
            path, size, detail = step(args)
            results.append(
                {
                    "name": name,
                    "ok": True,
                    "path": path,
                    "bytes": size,
                    "detail": detail,
                    "seconds": round(time.perf_counter() - t, 2),
                }
            )
        except BaseException as exc:
            results.append(
                {
                    "name": name,
                    "ok": False,
                    "path": None,
                    "bytes": 0,
                    "detail": f"{type(exc).__name__}: {exc}",
                    "traceback": traceback.format_exc().strip().splitlines()[-6:],
                    "seconds": round(time.perf_counter() - t, 2),
                }
            )
        print("step {} {}".format(name, "ok" if results[-1]["ok"] else "FAILED"), flush=True)
    sys.stdout.write("\n" + json.dumps({"steps": results}) + "\n")


if __name__ == "__main__":
    main()
