"""Top-down inference for one image: box -> affine crop -> network (with flip test) -> SimCC decode
-> keypoints in image coordinates. Each step reproduces mmpose's arithmetic (dtypes included), so
the keypoints equal mmpose's (in the default, exact mode: see apis.init_model).
"""

import numpy as np
import torch

from .structures import InstanceData, PoseDataSample


def box_center_scale(box, padding):
    """xyxy box -> centre and padded (w, h), in float32 like mmpose's GetBBoxCenterScale."""
    box = np.asarray(box, dtype=np.float32).reshape(4)
    centre = (box[2:] + box[:2]) * np.float32(0.5)
    scale = (box[2:] - box[:2]) * np.float32(padding)
    return centre.astype(np.float32), scale.astype(np.float32)


def fit_aspect(scale, input_size):
    """Grow the short side of (w, h) so that w/h equals the network input's aspect ratio (float32)."""
    aspect = np.float32(input_size[0] / input_size[1])
    w, h = np.asarray(scale, dtype=np.float32)
    if w > h * aspect:
        return np.array([w, w / aspect], dtype=np.float32)
    return np.array([h * aspect, h], dtype=np.float32)


def crop_matrix(centre, scale, input_size):
    """The 2x3 affine map from the image to the network input (no rotation).

    Three point pairs define it: the box centre to the input centre, the middle of the box's left
    edge to the middle of the input's left edge, and a point half a box width below that. The points
    are float32 and cv2 solves for the matrix, which keeps the matrix bit-equal to mmpose's: the warp
    quantises coordinates to 1/32 px, so any other rounding shifts pixels.
    """
    import cv2

    def triangle(cx, cy, half_width):
        first = np.array([cx, cy], dtype=np.float32)
        second = np.array([np.float64(cx) - half_width, np.float64(cy)], dtype=np.float64).astype(np.float32)
        edge = first - second
        third = second + np.array([-edge[1], edge[0]], dtype=np.float32)
        return np.stack([first, second, third]).astype(np.float32)

    src = triangle(centre[0], centre[1], np.float64(scale[0]) * 0.5)
    dst_w, dst_h = input_size
    dst = triangle(dst_w * 0.5, dst_h * 0.5, dst_w * 0.5)
    return cv2.getAffineTransform(src, dst)


def prepare(img, box, spec):
    """(input tensor 3xHxW float32, centre, scale) for one box, normalised as the config says."""
    import cv2

    centre, scale = box_center_scale(box, spec.bbox_padding)
    scale = fit_aspect(scale, spec.input_size)
    matrix = crop_matrix(centre, scale, spec.input_size)
    crop = cv2.warpAffine(img, matrix, (int(spec.input_size[0]), int(spec.input_size[1])), flags=cv2.INTER_LINEAR)
    tensor = torch.from_numpy(np.ascontiguousarray(crop)).permute(2, 0, 1)
    if spec.bgr_to_rgb:
        tensor = tensor[[2, 1, 0], ...]
    return tensor, centre, scale


def normalise(batch, spec):
    mean = torch.tensor(spec.mean, dtype=torch.float32).view(-1, 1, 1)
    std = torch.tensor(spec.std, dtype=torch.float32).view(-1, 1, 1)
    return (batch.float() - mean) / std


def simcc_logits(model, inputs, flip_indices):
    """The network's SimCC logits, averaged with those of the mirrored input when the config asks."""
    n = inputs.shape[0]
    if model.spec.flip_test:
        if getattr(model, "fused", False):
            # Fast mode: one batch for the image and its mirror, one pass through the network.
            both_x, both_y = model(torch.cat([inputs, inputs.flip(-1)]))
            pred_x, pred_y, flip_x, flip_y = both_x[:n], both_y[:n], both_x[n:], both_y[n:]
        else:
            # Exact mode: two passes of batch n, as mmpose runs them; another batch size can take
            # another convolution kernel, and so another rounding.
            pred_x, pred_y = model(inputs)
            flip_x, flip_y = model(inputs.flip(-1))
        # The mirror's x axis runs backwards and its points carry the other side's names.
        flip_x = flip_x[:, flip_indices].flip(-1)
        flip_y = flip_y[:, flip_indices]
        pred_x = (pred_x + flip_x) * 0.5
        pred_y = (pred_y + flip_y) * 0.5
    else:
        pred_x, pred_y = model(inputs)
    return pred_x, pred_y


def decode(simcc_x, simcc_y, split_ratio):
    """Peak bin per axis -> (N, K, 2) input-space coordinates and (N, K) scores (the weaker peak).

    A keypoint whose score is not positive gets the coordinate -1 bin, as mmpose's decoder does.
    """
    x_bins = simcc_x.argmax(axis=-1)
    y_bins = simcc_y.argmax(axis=-1)
    locs = np.stack((x_bins, y_bins), axis=-1).astype(np.float32)
    scores = np.minimum(simcc_x.max(axis=-1), simcc_y.max(axis=-1))
    locs[scores <= 0.0] = -1
    return locs / np.float32(split_ratio), scores


def to_image(keypoints, centre, scale, input_size):
    """Input-space coordinates -> image coordinates (the inverse of the crop)."""
    out = keypoints.copy()
    out[..., :2] = keypoints[..., :2] / np.asarray(input_size) * scale + centre - 0.5 * scale
    return out


def _no_grad():
    # inference_mode (torch >= 1.9) skips the version counters no_grad still keeps.
    mode = getattr(torch, "inference_mode", None)
    return mode() if mode is not None else torch.no_grad()


def run(model, img, boxes, flip_indices):
    spec = model.spec
    device = next(model.parameters()).device
    prepared = [prepare(img, box, spec) for box in boxes]
    inputs = normalise(torch.stack([p[0] for p in prepared]), spec).to(device)
    with _no_grad():
        pred_x, pred_y = simcc_logits(model, inputs, flip_indices)
    keypoints, scores = decode(pred_x.cpu().numpy(), pred_y.cpu().numpy(), spec.simcc_split_ratio)
    h, w = img.shape[:2]
    results = []
    for i, (box, (_, centre, scale)) in enumerate(zip(boxes, prepared)):
        kpts = to_image(keypoints[i : i + 1], centre, scale, spec.input_size)
        meta = {
            "img_shape": (h, w),
            "ori_shape": (h, w),
            "input_size": tuple(spec.input_size),
            "input_center": centre,
            "input_scale": scale,
            "flip_indices": list(flip_indices),
        }
        pred = InstanceData(
            keypoints=kpts,
            keypoint_scores=scores[i : i + 1],
            keypoints_visible=scores[i : i + 1],
            bboxes=np.asarray(box, dtype=np.float32).reshape(1, 4),
            bbox_scores=np.ones(1, dtype=np.float32),
        )
        gt = InstanceData(
            bboxes=pred.bboxes, bbox_scores=pred.bbox_scores, bbox_centers=centre[None], bbox_scales=scale[None]
        )
        results.append(PoseDataSample(metainfo=meta, pred_instances=pred, gt_instances=gt))
    return results
