"""Boxes and the pixels they cover: the one place for centres, areas, IoU and box masks.

A box is ``[x0, y0, x1, y1]`` in float pixels (DETR, face detectors); a
region is the end-exclusive integer box rendering changes (``box_to_region``).
"""

import math

import numpy as np


def box_centre(box):
    x0, y0, x1, y1 = box
    return (x0 + x1) / 2.0, (y0 + y1) / 2.0


def centre_distance(a, b):
    """Euclidean distance between the centres of two boxes."""
    (ax, ay), (bx, by) = box_centre(a), box_centre(b)
    return math.hypot(ax - bx, ay - by)


def box_area(box):
    x0, y0, x1, y1 = box
    return max(0.0, x1 - x0) * max(0.0, y1 - y0)


def box_intersection(a, b):
    """Area of the overlap of two boxes (0 when they do not overlap)."""
    return box_area([max(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), min(a[3], b[3])])


def box_iou(a, b):
    """Intersection over union of two boxes; 0 when they do not overlap."""
    shared = box_intersection(a, b)
    if shared <= 0:
        return 0.0
    union = box_area(a) + box_area(b) - shared
    return float(shared / union) if union > 0 else 0.0


def same_face(a, b, share=0.5):
    """Whether two face boxes are one face found twice: they overlap by at least ``share`` of the
    smaller box (IoU misses a face cut by a box's edge, which lies inside the whole one)."""
    shared = box_intersection(a, b)
    return shared > 0 and shared >= share * min(box_area(a), box_area(b))


def grow_box(box, pixels):
    x0, y0, x1, y1 = box
    return [x0 - pixels, y0 - pixels, x1 + pixels, y1 + pixels]


def box_to_region(box, width, height):
    """Pixel region (x0, y0, x1, y1), end-exclusive, clipped to the image.

    Grows outward to whole pixels (floor the start, ceil the end) so a
    protected box never leaves a sliver of its content untouched. Returns
    None when nothing of the box lies inside the image.
    """
    x0, y0, x1, y1 = box
    if not all(math.isfinite(v) for v in (x0, y0, x1, y1)):
        return None
    x0, x1 = sorted((x0, x1))
    y0, y1 = sorted((y0, y1))
    left, top = max(0, math.floor(x0)), max(0, math.floor(y0))
    right, bottom = min(width, math.ceil(x1)), min(height, math.ceil(y1))
    if right <= left or bottom <= top:
        return None
    return left, top, right, bottom


def boxes_mask(boxes, height, width):
    """Bool (height, width) mask, True on every pixel a box touches (``box_to_region``); None boxes are skipped."""
    mask = np.zeros((height, width), bool)
    for box in boxes:
        region = None if box is None else box_to_region(box, width, height)
        if region is not None:
            x0, y0, x1, y1 = region
            mask[y0:y1, x0:x1] = True
    return mask
