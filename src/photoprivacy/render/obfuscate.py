"""Region obfuscation methods. Each returns a copy; only pixels inside the region change."""

import math

import cv2
import numpy as np

REGION_METHODS = ("mosaic", "pixelate", "blur")


def mosaic_top_left(image, region, block=9):
    """The original's box mosaic: blocks of ``block`` px, aligned to the region's
    top-left corner, each filled with the colour of its own top-left pixel."""
    out = image.copy()
    x0, y0, x1, y1 = region
    for top in range(y0, y1, block):
        for left in range(x0, x1, block):
            out[top : min(top + block, y1), left : min(left + block, x1)] = image[top, left]
    return out


def pixelate_mean(image, region, block=9):
    """Block-average pixelation: each block takes its mean colour (rounded)."""
    out = image.copy()
    x0, y0, x1, y1 = region
    for top in range(y0, y1, block):
        for left in range(x0, x1, block):
            cell = image[top : min(top + block, y1), left : min(left + block, x1)]
            out[top : min(top + block, y1), left : min(left + block, x1)] = np.rint(
                cell.reshape(-1, cell.shape[-1]).mean(axis=0)
            ).astype(image.dtype)
    return out


def gaussian_blur(image, region, sigma=15.0, kernel=None):
    """Gaussian blur inside the region; neighbouring pixels feed the blur, only the region changes.

    ``kernel`` defaults to 2 * ceil(3 sigma) + 1 (odd).
    """
    kernel = kernel or 2 * math.ceil(3 * sigma) + 1
    x0, y0, x1, y1 = region
    pad = kernel // 2
    height, width = image.shape[:2]
    px0, py0 = max(0, x0 - pad), max(0, y0 - pad)
    px1, py1 = min(width, x1 + pad), min(height, y1 + pad)
    blurred = cv2.GaussianBlur(image[py0:py1, px0:px1], (kernel, kernel), sigma, borderType=cv2.BORDER_REFLECT_101)
    out = image.copy()
    out[y0:y1, x0:x1] = blurred[y0 - py0 : y1 - py0, x0 - px0 : x1 - px0]
    return out


def obfuscate_region(image, region, method, block=9, sigma=15.0):
    """Apply one of ``REGION_METHODS`` by name; the parameters it used come back for the log."""
    if method == "mosaic":
        return mosaic_top_left(image, region, block), {"block_size": block}
    if method == "pixelate":
        return pixelate_mean(image, region, block), {"block_size": block}
    if method == "blur":
        return gaussian_blur(image, region, sigma), {"sigma": sigma}
    raise ValueError(f"unknown region method '{method}' (expected one of {REGION_METHODS})")
