"""Region obfuscation methods. Each returns a copy; only pixels inside the region change."""

import math

import cv2
import numpy as np

REGION_METHODS = ("mosaic", "pixelate", "blur")
MASK_METHODS = ("random_mosaic", "pixelate", "blur", "noise")


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


def random_offset_mosaic(image, region, rng, half_sizes=(2, 7)):
    """The original scenario 1 mosaic: a patch half-size k drawn from ``half_sizes``
    (inclusive), square patches of side 2k + 1 tiled from the region's corner,
    each filled with the colour of a pixel at a random offset (-k..k) from the
    patch centre, clipped to the image. Returns (image, k)."""
    out = image.copy()
    height, width = image.shape[:2]
    half = int(rng.integers(half_sizes[0], half_sizes[1] + 1))
    side = 2 * half + 1
    x0, y0, x1, y1 = region
    for top in range(y0, y1, side):
        for left in range(x0, x1, side):
            dy, dx = rng.integers(-half, half + 1, size=2)
            source_y = min(max(top + half + int(dy), 0), height - 1)
            source_x = min(max(left + half + int(dx), 0), width - 1)
            out[top : min(top + side, y1), left : min(left + side, x1)] = image[source_y, source_x]
    return out, half


def gaussian_noise(image, region, rng, sigma=25.0):
    """Add one zero-mean noise field (the same on all three channels), rounded and clipped."""
    out = image.copy()
    x0, y0, x1, y1 = region
    field = rng.normal(0.0, sigma, size=(y1 - y0, x1 - x0, 1))
    out[y0:y1, x0:x1] = np.clip(np.rint(image[y0:y1, x0:x1] + field), 0, 255).astype(image.dtype)
    return out
