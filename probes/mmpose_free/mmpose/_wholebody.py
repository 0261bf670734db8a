"""COCO-WholeBody's keypoint layout, as far as inference needs it: which point mirrors which.

133 points: body 0-16, feet 17-22, face 23-90 (the iBUG 68 layout), left hand 91-111, right hand
112-132. The flip test averages the network's answer for the image and for its mirror, and the
mirror's points must be renamed (left eye <-> right eye); these are the names.
"""

NUM_KEYPOINTS = 133
FACE = (23, 91)  # MuseTalk takes keypoints[23:91]


def _mirror_groups():
    # Each group lists positions that map onto the same positions in reverse order; a group of one
    # point is its own mirror.
    groups = [
        [1, 2],
        [3, 4],
        [5, 6],
        [7, 8],
        [9, 10],
        [11, 12],
        [13, 14],
        [15, 16],
        list(range(23, 40)),  # jaw line
        list(range(40, 50)),  # both eyebrows, outer left to outer right
        list(range(54, 59)),  # nostrils
        list(range(71, 78)),
        list(range(78, 83)),  # outer lips, upper then lower
        list(range(83, 88)),
        list(range(88, 91)),  # inner lips
    ]
    # Feet and hands are whole blocks that swap with the other side, point by point.
    swaps = [(17, 20, 3), (91, 112, 21)]
    # The eyes do not mirror as a reversed run: the outer and inner corners swap, and the upper and
    # lower lids keep their order from the corner they start at.
    eyes = [(59, 68), (60, 67), (61, 66), (62, 65), (63, 70), (64, 69)]
    return groups, swaps, eyes


def flip_indices():
    """index i -> the index of i's mirror image."""
    out = list(range(NUM_KEYPOINTS))
    groups, swaps, eyes = _mirror_groups()
    for group in groups:
        for a, b in zip(group, reversed(group)):
            out[a] = b
    for left, right, n in swaps:
        for k in range(n):
            out[left + k], out[right + k] = right + k, left + k
    for a, b in eyes:
        out[a], out[b] = b, a
    return out
