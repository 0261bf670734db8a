"""Runs INSIDE a stub environment (see tests/test_stub_ops.py): imports, raising ops, real-op parity.

Usage: python ops.py NAMES_FILE  -> one JSON document on the last line of stdout.
The references are independent of the stub where one exists (a plain greedy NMS, mmcv's own pure-torch
bbox_overlaps, a scalar loop of mmcv's roi_pool kernel, plain conv2d for zero offsets); torchvision is the
reference where the issue names it (roi_align avg mode, deform conv with random offsets).
"""

import json
import math
import pkgutil
import sys
import traceback

import numpy as np
import torch


def greedy_nms(boxes, scores, thr, offset):
    order = sorted(range(len(scores)), key=lambda i: -scores[i])
    area = [(b[2] - b[0] + offset) * (b[3] - b[1] + offset) for b in boxes]
    keep, dead = [], set()
    for pos, i in enumerate(order):
        if i in dead:
            continue
        keep.append(i)
        for j in order[pos + 1 :]:
            if j in dead:
                continue
            w = max(0.0, min(boxes[i][2], boxes[j][2]) - max(boxes[i][0], boxes[j][0]) + offset)
            h = max(0.0, min(boxes[i][3], boxes[j][3]) - max(boxes[i][1], boxes[j][1]) + offset)
            inter = w * h
            if inter / (area[i] + area[j] - inter) > thr:
                dead.add(j)
    return keep


def random_boxes(gen, n, size=100.0):
    xy = torch.rand(n, 2, generator=gen) * size
    wh = torch.rand(n, 2, generator=gen) * size / 3 + 1
    return torch.cat([xy, xy + wh], 1)


def loop_roi_pool(feat, rois, ph_n, pw_n, scale):
    """mmcv's roi_pool kernel, one output element at a time, in float32 like the kernel's T."""
    f32 = np.float32
    n_rois, c = rois.shape[0], feat.shape[1]
    height, width = feat.shape[2], feat.shape[3]
    out = np.zeros((n_rois, c, ph_n, pw_n), np.float32)
    arg = np.zeros((n_rois, c, ph_n, pw_n), np.int32)
    x = feat.numpy()
    r = rois.numpy().astype(np.float32)
    s = f32(scale)
    for n in range(n_rois):
        b = int(r[n, 0])
        x1, y1 = r[n, 1] * s, r[n, 2] * s
        x2, y2 = (r[n, 3] + f32(1)) * s, (r[n, 4] + f32(1)) * s
        rw, rh = f32(x2 - x1), f32(y2 - y1)
        if rw <= 0 or rh <= 0:
            continue
        bw, bh = f32(rw / f32(pw_n)), f32(rh / f32(ph_n))
        for ph in range(ph_n):
            for pw in range(pw_n):
                bx1 = min(max(math.floor(f32(f32(pw) * bw + x1)), 0), width)
                by1 = min(max(math.floor(f32(f32(ph) * bh + y1)), 0), height)
                bx2 = min(max(math.ceil(f32(f32(pw + 1) * bw + x1)), 0), width)
                by2 = min(max(math.ceil(f32(f32(ph + 1) * bh + y1)), 0), height)
                empty = by2 <= by1 or bx2 <= bx1
                for ch in range(c):
                    best, idx = (0.0 if empty else -np.inf), -1
                    for hh in range(by1, by2):
                        for ww in range(bx1, bx2):
                            if x[b, ch, hh, ww] > best:
                                best, idx = x[b, ch, hh, ww], hh * width + ww
                    out[n, ch, ph, pw], arg[n, ch, ph, pw] = best, idx
    return torch.from_numpy(out), torch.from_numpy(arg)


def check(results, name, fn):
    try:
        results[name] = fn()
    except Exception as exc:  # reported to the test, which fails with the traceback
        results[name] = {"ok": False, "error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc()}


def imports(names):
    import mmcv._ext as ext
    import mmcv.ops  # noqa: F401
    import mmdet.models  # noqa: F401
    from mmpose.apis import inference_topdown, init_model  # noqa: F401

    missing = [n for n in names if not callable(getattr(ext, n, None))]
    loader = pkgutil.find_loader("mmcv._ext")
    return {
        "ok": not missing and loader is not None,
        "missing": missing,
        "file": ext.__file__,
        "loader": type(loader).__name__,
        "calls_after_imports": dict(ext.STUB_CALLS),
    }


def raising(names):
    import mmcv._ext as ext

    real = set(ext.REAL_OPS)
    bad = {}
    counted = []
    for name in names:
        if name in real:
            continue
        before = ext.STUB_CALLS.get(name, 0)
        try:
            value = getattr(ext, name)(torch.zeros(1), offset=0)
            bad[name] = f"returned {value!r}"
            continue
        except ext.MmcvExtStubError as exc:
            msg = str(exc)
            if type(exc).__name__ != "MmcvExtStubError" or name not in msg or ext.STUB_INFO["mmcv"] not in msg:
                bad[name] = "message lacks the op or the version: " + msg
            if "envdoctor stub remove" not in msg or exc.op != name:
                bad[name] = "message lacks the remedy: " + msg
        except Exception as exc:
            bad[name] = f"raised {type(exc).__name__}, not MmcvExtStubError: {exc}"
        counted.append(ext.STUB_CALLS.get(name, 0) == before + 1)
    example = None
    try:
        ext.nms_rotated()
    except ext.MmcvExtStubError as exc:
        example = str(exc)
    return {
        "ok": not bad and all(counted),
        "tested": len(names) - len(real),
        "bad": bad,
        "counted": all(counted),
        "example": example,
        "is_not_implemented": issubclass(ext.MmcvExtStubError, NotImplementedError),
    }


def parity_nms():
    from mmcv.ops import nms

    gen = torch.Generator().manual_seed(0)
    mismatches, cases = [], 0
    for offset in (0, 1):
        for case in range(200):
            n = int(torch.randint(1, 80, (1,), generator=gen))
            boxes = random_boxes(gen, n)
            scores = torch.rand(n, generator=gen)
            thr = float(torch.rand(1, generator=gen)) * 0.6 + 0.2
            _, inds = nms(boxes, scores, thr, offset=offset)
            ref = greedy_nms(boxes.tolist(), scores.tolist(), thr, offset)
            cases += 1
            if inds.tolist() != ref or inds.dtype != torch.long:
                mismatches.append([offset, case])
    empty = nms(torch.zeros(0, 4), torch.zeros(0), 0.5)[1]
    return {"ok": not mismatches and empty.numel() == 0, "cases": cases, "mismatches": mismatches[:5]}


def parity_bbox_overlaps():
    import mmcv._ext as ext
    from mmcv.ops import bbox_overlaps
    from mmcv.ops.bbox import _bbox_overlaps_cpu

    gen = torch.Generator().manual_seed(1)
    worst, cases = 0.0, 0
    for mode in ("iou", "iof"):
        for aligned in (False, True):
            for offset in (0, 1):
                b1 = random_boxes(gen, 30)
                b2 = random_boxes(gen, 30 if aligned else 20)
                got = bbox_overlaps(b1, b2, mode=mode, aligned=aligned, offset=offset)
                ref = _bbox_overlaps_cpu(b1, b2, mode=mode, aligned=aligned, offset=offset)
                worst = max(worst, float((got - ref).abs().max()))
                cases += 1
    ious = torch.full((3, 2), -1.0)
    returned = ext.bbox_overlaps(random_boxes(gen, 3), random_boxes(gen, 2), ious, mode=0, aligned=False, offset=0)
    return {"ok": worst < 1e-6 and returned is None and bool((ious >= 0).all()), "cases": cases, "max_abs": worst}


def parity_roi_align():
    import mmcv._ext as ext
    import torchvision
    from mmcv.ops import roi_align

    gen = torch.Generator().manual_seed(2)
    worst, cases = 0.0, 0
    for aligned in (True, False):
        for sampling_ratio in (0, 2):
            for scale in (1.0, 0.5, 0.25):
                feat = torch.randn(2, 3, 24, 32, generator=gen)
                boxes = random_boxes(gen, 6, size=60.0)
                rois = torch.cat([torch.randint(0, 2, (6, 1), generator=gen).float(), boxes], 1)
                got = roi_align(feat, rois, (7, 5), scale, sampling_ratio, "avg", aligned)
                ref = torchvision.ops.roi_align(feat, rois, (7, 5), scale, sampling_ratio, aligned)
                worst = max(worst, float((got - ref).abs().max()))
                cases += 1
    # mmcv's in-place contract: the op writes into the caller's tensor and returns None.
    feat = torch.randn(1, 2, 10, 10, generator=gen)
    rois = torch.tensor([[0.0, 1.0, 1.0, 8.0, 6.0]])
    out = torch.zeros(1, 2, 3, 3)
    empty = feat.new_zeros(0)
    returned = ext.roi_align_forward(
        feat,
        rois,
        out,
        empty,
        empty,
        aligned_height=3,
        aligned_width=3,
        spatial_scale=1.0,
        sampling_ratio=0,
        pool_mode=1,
        aligned=True,
    )
    inplace = returned is None and torch.allclose(out, torchvision.ops.roi_align(feat, rois, (3, 3), 1.0, 0, True))
    try:
        roi_align(feat, rois, (3, 3), 1.0, 0, "max", True)
        max_mode = "returned"
    except ext.MmcvExtStubError:
        max_mode = "MmcvExtStubError"
    ok = worst < 1e-5 and inplace and max_mode == "MmcvExtStubError"
    return {"ok": ok, "cases": cases, "max_abs": worst, "inplace": inplace, "max_mode": max_mode}


def parity_roi_pool():
    import mmcv._ext as ext
    import torchvision
    from mmcv.ops import roi_pool

    gen = torch.Generator().manual_seed(3)
    worst, argmax_equal, cases = 0.0, True, 0
    for scale in (1.0, 0.5, 0.25):
        feat = torch.randn(2, 3, 16, 20, generator=gen)
        boxes = random_boxes(gen, 5, size=40.0) / (scale * 2)
        rois = torch.cat([torch.randint(0, 2, (5, 1), generator=gen).float(), boxes], 1)
        rois = torch.cat([rois, torch.tensor([[0.0, 5.0, 5.0, 3.0, 3.0]])])  # a degenerate box
        out = feat.new_zeros(rois.size(0), 3, 4, 3)
        arg = feat.new_zeros(rois.size(0), 3, 4, 3, dtype=torch.int)
        returned = ext.roi_pool_forward(feat, rois, out, arg, pooled_height=4, pooled_width=3, spatial_scale=scale)
        ref_out, ref_arg = loop_roi_pool(feat, rois, 4, 3, scale)
        worst = max(worst, float((out - ref_out).abs().max()))
        argmax_equal = argmax_equal and torch.equal(arg, ref_arg) and returned is None
        via_mmcv = roi_pool(feat, rois, (4, 3), scale)
        worst = max(worst, float((via_mmcv - ref_out).abs().max()))
        cases += 1
    # For whole-pixel boxes at scale 1 mmcv's and torchvision's bin arithmetic agree.
    feat = torch.randn(1, 4, 20, 20, generator=gen)
    rois = torch.tensor([[0.0, 2.0, 3.0, 15.0, 12.0], [0.0, 0.0, 0.0, 19.0, 19.0]])
    tv = torchvision.ops.roi_pool(feat, rois, (5, 4), 1.0)
    tv_diff = float((roi_pool(feat, rois, (5, 4), 1.0) - tv).abs().max())
    ok = worst == 0.0 and argmax_equal and tv_diff == 0.0
    return {"ok": ok, "cases": cases, "max_abs": worst, "argmax_equal": argmax_equal, "torchvision_diff": tv_diff}


def parity_deform_conv():
    import mmcv._ext as ext
    import torch.nn.functional as F
    import torchvision
    from mmcv.ops import DeformConv2d, ModulatedDeformConv2d, deform_conv2d, modulated_deform_conv2d

    gen = torch.Generator().manual_seed(4)
    torch.manual_seed(4)
    res = {}
    x = torch.randn(2, 4, 9, 11, generator=gen)
    # Zero offsets: a deformable convolution is a plain convolution (an independent reference).
    dc = DeformConv2d(4, 6, 3, stride=1, padding=1, bias=False).eval()
    zero = torch.zeros(2, 18, 9, 11)
    with torch.no_grad():
        res["dc_zero"] = float((dc(x, zero) - F.conv2d(x, dc.weight, padding=1)).abs().max())
        mdc = ModulatedDeformConv2d(4, 6, 3, stride=1, padding=1, bias=True).eval()
        half = torch.full((2, 9, 9, 11), 0.5)
        ref = 0.5 * F.conv2d(x, mdc.weight, padding=1) + mdc.bias[None, :, None, None]
        res["mdc_zero"] = float((mdc(x, zero, half) - ref).abs().max())
        # Random offsets, groups, deformable groups, stride, dilation: torchvision as the reference.
        w = torch.randn(6, 2, 3, 3, generator=gen)
        off = torch.randn(2, 2 * 2 * 9, 5, 6, generator=gen) * 2
        got = deform_conv2d(x, off, w, stride=2, padding=2, dilation=2, groups=2, deform_groups=2)
        ref = torchvision.ops.deform_conv2d(x, off, w, stride=2, padding=2, dilation=2)
        res["dc_random"] = float((got - ref).abs().max())
        mask = torch.rand(2, 2 * 9, 5, 6, generator=gen)
        bias = torch.randn(6, generator=gen)
        got = modulated_deform_conv2d(x, off, mask, w, bias, 2, 2, 2, 2, 2)
        ref = torchvision.ops.deform_conv2d(x, off, w, bias, stride=2, padding=2, dilation=2, mask=mask)
        res["mdc_random"] = float((got - ref).abs().max())
        out = torch.zeros(2, 6, 9, 11)
        returned = ext.deform_conv_forward(
            x,
            dc.weight,
            zero,
            out,
            x.new_empty(0),
            x.new_empty(0),
            kW=3,
            kH=3,
            dW=1,
            dH=1,
            padW=1,
            padH=1,
            dilationW=1,
            dilationH=1,
            group=1,
            deformable_group=1,
            im2col_step=2,
        )
        res["inplace"] = returned is None and torch.allclose(out, F.conv2d(x, dc.weight, padding=1), atol=1e-5)
    res["ok"] = res["inplace"] and max(res["dc_zero"], res["mdc_zero"], res["dc_random"], res["mdc_random"]) < 1e-4
    return res


def compiler():
    from mmcv.ops import get_compiler_version, get_compiling_cuda_version

    a, b = get_compiler_version(), get_compiling_cuda_version()
    return {"ok": isinstance(a, str) and isinstance(b, str), "compiler": a, "cuda": b}


def main():
    with open(sys.argv[1]) as fh:
        names = fh.read().split()
    results = {}
    check(results, "imports", lambda: imports(names))
    check(results, "raising", lambda: raising(names))
    for key, fn in (
        ("nms", parity_nms),
        ("bbox_overlaps", parity_bbox_overlaps),
        ("roi_align", parity_roi_align),
        ("roi_pool", parity_roi_pool),
        ("deform_conv", parity_deform_conv),
        ("compiler", compiler),
    ):
        check(results, key, fn)
    import mmcv._ext as ext

    results["calls"] = dict(ext.STUB_CALLS)
    print(json.dumps(results))


if __name__ == "__main__":
    main()
