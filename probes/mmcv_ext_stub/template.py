"""Stand-in for mmcv's compiled `_ext` module, written by envdoctor (`envdoctor stub generate`).

mmcv-lite, and an mmcv built without its ops, ship no `mmcv/_ext`, so `import mmcv.ops` fails: every
`mmcv/ops/*.py` asks `load_ext` for its names at import time. This module provides all of them. A few
are real, computed with torch (and torchvision where it has the op) under mmcv's exact calling
convention: most mmcv ops write into an output tensor the caller allocated and return None. Every other
name raises MmcvExtStubError when called, so that a result is never silently wrong.

This file runs inside the treated environment, which does not have envdoctor: standard library and
torch only, Python 3.8+ syntax, torchvision imported inside the ops that use it. STUB_CALLS counts
every call of every op, real or raising, so that a caller can prove which ops a code path used.
"""

import functools
import warnings

import torch

# The generator fills these in below the template: mmcv version, sources hash, op counts.
STUB_INFO = {}
# op name -> number of calls since import (real and raising ops alike).
STUB_CALLS = {}

_HOW_TO_GET_IT = (
    "For the real op: run `envdoctor stub remove`, then install an mmcv with compiled ops built for this "
    "torch (`envdoctor fix` picks a prebuilt wheel from download.openmmlab.com or a source build)."
)


class MmcvExtStubError(NotImplementedError):
    """An mmcv op was called that envdoctor's `_ext` stub cannot compute."""

    def __init__(self, op, reason=""):
        self.op = op
        self.mmcv_version = STUB_INFO.get("mmcv", "unknown")
        message = (
            f"mmcv._ext.{op} is not available: mmcv {self.mmcv_version} is installed without its compiled ops, "
            f"and envdoctor's stub stands in for them ({STUB_INFO.get('real', '?')} of {STUB_INFO.get('ops', '?')} "
            "ops are real, the others raise this error)."
        )
        if reason:
            message += " " + reason
        super().__init__(message + " " + _HOW_TO_GET_IT)


def _record(op):
    STUB_CALLS[op] = STUB_CALLS.get(op, 0) + 1


def _unavailable(op):
    """The function that stands for an op the stub cannot compute: it raises, never returns None."""

    def unavailable(*args, **kwargs):
        _record(op)
        raise MmcvExtStubError(op)

    unavailable.__name__ = unavailable.__qualname__ = op
    unavailable.__doc__ = "Not available in envdoctor's mmcv._ext stub: raises MmcvExtStubError."
    return unavailable


def _real(fn):
    """Mark an op the stub computes for real (the generator keeps those mmcv asks for)."""

    @functools.wraps(fn)
    def recorded(*args, **kwargs):
        _record(fn.__name__)
        return fn(*args, **kwargs)

    return recorded


def _torchvision_ops(op):
    try:
        import torchvision.ops
    except Exception as exc:  # ImportError, or a torchvision built for another torch
        raise MmcvExtStubError(
            op, f"The stub computes it with torchvision, which failed to import ({type(exc).__name__}: {exc})."
        ) from exc
    return torchvision.ops


# --- the real ops ----------------------------------------------------------------------------------


@_real
def get_compiler_version():
    return "none (envdoctor mmcv._ext stub, no compiled ops)"


@_real
def get_compiling_cuda_version():
    # What a real mmcv built without CUDA answers.
    return "not available"


@_real
def nms(boxes, scores, iou_threshold, offset):
    """Greedy NMS; returns the kept indices in decreasing score order, like mmcv's kernel.

    mmcv measures widths as x2 - x1 + offset (offset 0 or 1). torchvision's nms is the same
    computation for offset 0, so it is used there when present; offset 1 (and no torchvision)
    runs the greedy loop below, written in mmcv's order of operations.
    """
    if boxes.numel() == 0:
        return boxes.new_empty((0,), dtype=torch.long)
    if offset == 0:
        try:
            import torchvision.ops
        except Exception as exc:  # the plain loop below gives the same answer, only slower: say so once
            warnings.warn(
                f"mmcv._ext stub: torchvision does not import ({type(exc).__name__}), so nms runs a plain torch "
                "loop: the same result, more slowly.",
                RuntimeWarning,
                stacklevel=3,
            )
            torchvision = None
        if torchvision is not None:
            return torchvision.ops.nms(boxes, scores, float(iou_threshold))
    x1, y1, x2, y2 = boxes[:, 0], boxes[:, 1], boxes[:, 2], boxes[:, 3]
    areas = (x2 - x1 + offset) * (y2 - y1 + offset)
    order = scores.sort(0, descending=True)[1]
    keep = torch.ones(order.numel(), dtype=torch.bool, device=boxes.device)
    for pos in range(order.numel()):
        if not bool(keep[pos]):
            continue
        i = order[pos]
        rest = order[pos + 1 :]
        if rest.numel() == 0:
            break
        w = (torch.minimum(x2[rest], x2[i]) - torch.maximum(x1[rest], x1[i]) + offset).clamp(min=0)
        h = (torch.minimum(y2[rest], y2[i]) - torch.maximum(y1[rest], y1[i]) + offset).clamp(min=0)
        inter = w * h
        ovr = inter / (areas[i] + areas[rest] - inter)
        keep[pos + 1 :] &= ~(ovr > iou_threshold)
    return order[keep]


@_real
def bbox_overlaps(bboxes1, bboxes2, ious, mode, aligned, offset):
    """IoU (mode 0) or IoF (mode 1), written into `ious`; mmcv's kernel formula, in torch."""
    if aligned:
        b1, b2 = bboxes1, bboxes2
    else:
        b1, b2 = bboxes1[:, None, :], bboxes2[None, :, :]
    area1 = (b1[..., 2] - b1[..., 0] + offset) * (b1[..., 3] - b1[..., 1] + offset)
    area2 = (b2[..., 2] - b2[..., 0] + offset) * (b2[..., 3] - b2[..., 1] + offset)
    width = (torch.minimum(b1[..., 2], b2[..., 2]) - torch.maximum(b1[..., 0], b2[..., 0]) + offset).clamp(min=0)
    height = (torch.minimum(b1[..., 3], b2[..., 3]) - torch.maximum(b1[..., 1], b2[..., 1]) + offset).clamp(min=0)
    inter = width * height
    base = area1 + area2 - inter if mode == 0 else area1.expand_as(inter)
    ious.copy_(inter / base.clamp(min=offset))


@_real
def roi_align_forward(
    input,
    rois,
    output,
    argmax_y,
    argmax_x,
    aligned_height,
    aligned_width,
    spatial_scale,
    sampling_ratio,
    pool_mode,
    aligned,
):
    """Average-mode RoIAlign into `output` (torchvision's roi_align is the same computation)."""
    if pool_mode != 1:
        raise MmcvExtStubError(
            "roi_align_forward", "The stub computes only pool_mode='avg'; 'max' has no torch equivalent."
        )
    ops = _torchvision_ops("roi_align_forward")
    result = ops.roi_align(
        input,
        rois.to(input.dtype),
        (int(aligned_height), int(aligned_width)),
        float(spatial_scale),
        int(sampling_ratio),
        bool(aligned),
    )
    output.copy_(result)


@_real
def roi_pool_forward(input, rois, output, argmax, pooled_height, pooled_width, spatial_scale):
    """RoIPool into `output` and `argmax`, with mmcv's bin arithmetic.

    torchvision's roi_pool rounds the box to whole pixels first and so differs from mmcv;
    this follows mmcv's kernel instead: unrounded box, (x2 + 1) * scale, floor/ceil per bin,
    empty bins give 0 and argmax -1, a degenerate box leaves its output untouched.
    """
    if rois.numel() == 0:
        return
    height, width = input.size(2), input.size(3)
    scale = torch.tensor(spatial_scale, dtype=input.dtype, device=input.device)
    r = rois.to(input.dtype)
    x1, y1 = r[:, 1] * scale, r[:, 2] * scale
    roi_w = (r[:, 3] + 1) * scale - x1
    roi_h = (r[:, 4] + 1) * scale - y1
    bin_w = roi_w / pooled_width
    bin_h = roi_h / pooled_height
    pw = torch.arange(pooled_width, dtype=input.dtype, device=input.device)
    ph = torch.arange(pooled_height, dtype=input.dtype, device=input.device)
    xs = torch.floor(pw[None] * bin_w[:, None] + x1[:, None]).long().clamp(0, width).tolist()
    xe = torch.ceil((pw[None] + 1) * bin_w[:, None] + x1[:, None]).long().clamp(0, width).tolist()
    ys = torch.floor(ph[None] * bin_h[:, None] + y1[:, None]).long().clamp(0, height).tolist()
    ye = torch.ceil((ph[None] + 1) * bin_h[:, None] + y1[:, None]).long().clamp(0, height).tolist()
    valid = ((roi_w > 0) & (roi_h > 0)).tolist()
    batch = rois[:, 0].long().tolist()
    for n in range(rois.size(0)):
        if not valid[n]:
            continue
        feat = input[batch[n]]
        for i in range(int(pooled_height)):
            for j in range(int(pooled_width)):
                h0, h1, w0, w1 = ys[n][i], ye[n][i], xs[n][j], xe[n][j]
                if h1 <= h0 or w1 <= w0:
                    output[n, :, i, j] = 0
                    argmax[n, :, i, j] = -1
                    continue
                values, flat = feat[:, h0:h1, w0:w1].reshape(feat.size(0), -1).max(1)
                cols = w1 - w0
                output[n, :, i, j] = values
                argmax[n, :, i, j] = ((flat // cols + h0) * width + flat % cols + w0).to(argmax.dtype)


@_real
def deform_conv_forward(
    input,
    weight,
    offset,
    output,
    columns,
    ones,
    kW,
    kH,
    dW,
    dH,
    padW,
    padH,
    dilationW,
    dilationH,
    group,
    deformable_group,
    im2col_step,
):
    """Deformable convolution (v1) into `output` via torchvision (the same offset layout as mmcv)."""
    ops = _torchvision_ops("deform_conv_forward")
    _check_groups("deform_conv_forward", input, weight, offset, kH, kW, group, deformable_group)
    result = ops.deform_conv2d(
        input, offset, weight, None, stride=(dH, dW), padding=(padH, padW), dilation=(dilationH, dilationW)
    )
    output.copy_(result)


@_real
def modulated_deform_conv_forward(
    input,
    weight,
    bias,
    ones,
    offset,
    mask,
    output,
    columns,
    kernel_h,
    kernel_w,
    stride_h,
    stride_w,
    pad_h,
    pad_w,
    dilation_h,
    dilation_w,
    group,
    deformable_group,
    with_bias,
):
    """Modulated deformable convolution (DCNv2) into `output` via torchvision."""
    ops = _torchvision_ops("modulated_deform_conv_forward")
    _check_groups("modulated_deform_conv_forward", input, weight, offset, kernel_h, kernel_w, group, deformable_group)
    result = ops.deform_conv2d(
        input,
        offset,
        weight,
        bias if with_bias else None,
        stride=(stride_h, stride_w),
        padding=(pad_h, pad_w),
        dilation=(dilation_h, dilation_w),
        mask=mask,
    )
    output.copy_(result)


def _check_groups(op, input, weight, offset, kh, kw, group, deformable_group):
    # torchvision infers both group counts from the tensor shapes; mmcv passes them. Say so if they disagree.
    if input.size(1) != weight.size(1) * group or offset.size(1) != 2 * kh * kw * deformable_group:
        raise MmcvExtStubError(
            op,
            f"The tensor shapes do not match group={group}, deformable_group={deformable_group}, "
            "which torchvision cannot honour.",
        )
