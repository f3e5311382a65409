"""Box conversions between DETR's normalised centre/size and pixel corners."""

import numpy as np


def cxcywh_to_xyxy(boxes, width, height):
    """Normalised (cx, cy, w, h) rows -> pixel (x0, y0, x1, y1) rows in a width x height image."""
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    cx, cy, w, h = boxes.T
    corners = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1)
    return corners * np.array([width, height, width, height], dtype=np.float64)


def xywh_to_xyxy(boxes):
    """COCO pixel (x, y, w, h) rows -> (x0, y0, x1, y1) rows."""
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    x, y, w, h = boxes.T
    return np.stack([x, y, x + w, y + h], axis=1)
