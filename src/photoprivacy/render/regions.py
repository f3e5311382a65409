"""From float boxes to the integer pixel regions that rendering changes."""

import math


def box_to_region(box_xyxy, width, height):
    """Pixel region (x0, y0, x1, y1), end-exclusive, clipped to the image.

    Grows outward to whole pixels (floor the start, ceil the end) so a
    protected box never leaves a sliver of its content untouched. Returns
    None when nothing of the box lies inside the image.
    """
    x0, y0, x1, y1 = box_xyxy
    if not all(math.isfinite(v) for v in (x0, y0, x1, y1)):
        return None
    x0, x1 = sorted((x0, x1))
    y0, y1 = sorted((y0, y1))
    left, top = max(0, math.floor(x0)), max(0, math.floor(y0))
    right, bottom = min(width, math.ceil(x1)), min(height, math.ceil(y1))
    if right <= left or bottom <= top:
        return None
    return left, top, right, bottom


def grow_box(box_xyxy, pixels):
    x0, y0, x1, y1 = box_xyxy
    return [x0 - pixels, y0 - pixels, x1 + pixels, y1 + pixels]
