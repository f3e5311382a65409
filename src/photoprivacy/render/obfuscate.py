"""The pixel work of the obfuscation methods (``methods.py`` names them). Each returns a copy;
only pixels inside the region change.

A region is ``(x0, y0, x1, y1)`` in pixels (x1, y1 exclusive), inside the image.
The block methods work on whole arrays (one Python step per row of blocks, not
per block) and give exactly the pixels, and draw exactly the random numbers, of
the original per-block loops (kept as references in ``tests/test_obfuscate.py``).
"""

import math

import cv2
import numpy as np

# Float64 elements per slab in gaussian_noise: a few MB, so the slab stays in cache.
_NOISE_SLAB_ELEMENTS = 1 << 18


def _block_lengths(length, block):
    """Sizes of the blocks of ``block`` px that tile ``length`` px from its start (the last may be shorter)."""
    lengths = np.full(-(-length // block), block, dtype=np.intp)
    if len(lengths):
        lengths[-1] = length - block * (len(lengths) - 1)
    return lengths


def _fill_blocks(out, region, colours, block):
    """Fill ``out``'s region block by block, in place: blocks of ``block`` px tiled from the
    region's top-left corner (partial at its right and bottom edges), block (i, j) with
    ``colours[i, j]``."""
    x0, y0, x1, y1 = region
    # One pixel row per row of blocks, then each written to all the pixel rows of its blocks.
    rows = np.repeat(colours, _block_lengths(x1 - x0, block), axis=1)
    for i, top in enumerate(range(y0, y1, block)):
        out[top : min(top + block, y1), x0:x1] = rows[i]


def mosaic_top_left(image, region, block):
    """The original's box mosaic: blocks of ``block`` px, aligned to the region's
    top-left corner, each filled with the colour of its own top-left pixel
    (blocks at the region's right and bottom edges are partial)."""
    out = image.copy()
    x0, y0, x1, y1 = region
    if x1 > x0 and y1 > y0:
        _fill_blocks(out, region, image[y0:y1:block, x0:x1:block], block)
    return out


def _exact_block_sums(image, block):
    """Whether integer block sums of ``image`` are exact in float64 (so sum / count equals
    numpy's float64 mean bit for bit)."""
    if image.dtype.kind == "b":
        largest = 1
    elif image.dtype.kind in "iu":
        info = np.iinfo(image.dtype)
        largest = max(abs(int(info.min)), int(info.max))
    else:
        return False
    return largest * block * block < 2**53


def pixelate_mean(image, region, block):
    """Block-average pixelation: blocks of ``block`` px aligned to the region's top-left
    corner, each filled with its per-channel mean colour, rounded half to even
    (``np.rint``); partial blocks at the region's right and bottom edges average only
    their own pixels. Images are H x W x C of an integer (or bool) type: photos here are uint8."""
    x0, y0, x1, y1 = region
    if image.ndim != 3 or not _exact_block_sums(image, block):
        raise ValueError(f"pixelate_mean takes an H x W x C integer image, got shape {image.shape} {image.dtype}")
    out = image.copy()
    if x1 <= x0 or y1 <= y0:
        return out
    cell = image[y0:y1, x0:x1]
    height, width = cell.shape[:2]
    # Sum the rows of each row of blocks (row k of every block at once), then the columns of each block.
    small = image.dtype.kind == "b" or (image.dtype == np.uint8 and block <= 257)  # 255 * 257 < 2**16
    rows = cell[0::block].astype(np.uint16 if small else np.int64)
    for k in range(1, min(block, height)):
        part = cell[k::block]
        rows[: len(part)] += part
    sums = np.add.reduceat(rows, np.arange(0, width, block), axis=1, dtype=np.int64)
    counts = np.outer(_block_lengths(height, block), _block_lengths(width, block))
    # Exact integer sums over the pixel count: numpy's mean in float64, bit for bit.
    means = np.rint(sums / counts[:, :, None]).astype(image.dtype)
    _fill_blocks(out, region, means, block)
    return out


# Above this sigma a blur runs on a copy shrunk by floor(sigma / 10): the cost of a
# full-resolution blur grows with its kernel (12 MP: 0.7 s at sigma 15, 16 s at sigma 100).
SHRINK_BLUR_SIGMA = 20.0


def gaussian_blur(image, region, sigma, kernel=None):
    """Gaussian blur inside the region; neighbouring pixels feed the blur, only the region changes.

    ``kernel`` defaults to 2 * ceil(3 sigma) + 1 (odd). From sigma 20 on, the
    padded region is shrunk by floor(sigma / 10) (INTER_AREA), blurred with the
    sigma and kernel divided by as much, and enlarged back (INTER_LINEAR): a blur
    that wide has no detail the shrinking could lose, and it costs a fraction.
    """
    kernel = kernel or 2 * math.ceil(3 * sigma) + 1
    x0, y0, x1, y1 = region
    pad = kernel // 2
    height, width = image.shape[:2]
    px0, py0 = max(0, x0 - pad), max(0, y0 - pad)
    px1, py1 = min(width, x1 + pad), min(height, y1 + pad)
    blurred = _blur(image[py0:py1, px0:px1], sigma, kernel)
    if (px0, py0, px1, py1) == (0, 0, width, height) == (x0, y0, x1, y1) and blurred.shape == image.shape:
        return blurred  # the whole image: cv2's output already is the result (a new array)
    out = image.copy()
    out[y0:y1, x0:x1] = blurred[y0 - py0 : y1 - py0, x0 - px0 : x1 - px0]
    return out


def _blur(patch, sigma, kernel):
    factor = math.floor(sigma / 10) if sigma >= SHRINK_BLUR_SIGMA else 1
    small_size = (max(1, round(patch.shape[1] / factor)), max(1, round(patch.shape[0] / factor)))
    if factor == 1 or min(small_size) < 2:
        return cv2.GaussianBlur(patch, (kernel, kernel), sigma, borderType=cv2.BORDER_REFLECT_101)
    small = cv2.resize(patch, small_size, interpolation=cv2.INTER_AREA)
    small_kernel = max(3, (kernel // factor) | 1)  # odd
    blurred = cv2.GaussianBlur(small, (small_kernel, small_kernel), sigma / factor, borderType=cv2.BORDER_REFLECT_101)
    return cv2.resize(blurred, (patch.shape[1], patch.shape[0]), interpolation=cv2.INTER_LINEAR)


def random_offset_mosaic(image, region, rng, half_sizes):
    """The original scenario 1 mosaic: a patch half-size k drawn from ``half_sizes``
    (inclusive), square patches of side 2k + 1 tiled from the region's corner
    (partial at its right and bottom edges), each filled with the colour of the
    original image's pixel at a random offset (-k..k, y then x) from the patch
    centre, clipped to the image. Returns (image, k).

    Draws from ``rng``: k, then one (dy, dx) pair per patch in row-major order, as
    one ``integers`` call, which leaves ``rng`` where the original per-patch calls
    did (bounded draws below 2**32 take the bit generator's 32-bit values one by one).
    """
    out = image.copy()
    height, width = image.shape[:2]
    half = int(rng.integers(half_sizes[0], half_sizes[1] + 1))
    side = 2 * half + 1
    x0, y0, x1, y1 = region
    if x1 <= x0 or y1 <= y0:
        return out, half
    tops = np.arange(y0, y1, side)
    lefts = np.arange(x0, x1, side)
    offsets = rng.integers(-half, half + 1, size=(len(tops), len(lefts), 2))
    source_y = np.clip(tops[:, None] + half + offsets[:, :, 0], 0, height - 1)
    source_x = np.clip(lefts[None, :] + half + offsets[:, :, 1], 0, width - 1)
    _fill_blocks(out, region, image[source_y, source_x], side)
    return out, half


def gaussian_noise(image, region, rng, sigma):
    """Add one zero-mean noise field (the same on all three channels), rounded and clipped.

    The field is drawn in slabs of rows, in row-major order: the same numbers as one
    draw of the whole field, added in cache-sized pieces.
    """
    out = image.copy()
    x0, y0, x1, y1 = region
    if x1 <= x0 or y1 <= y0:
        rng.normal(0.0, sigma, size=(y1 - y0, x1 - x0, 1))  # draws nothing (or raises), as before
        return out
    pixels = image[y0:y1, x0:x1]
    step = max(1, _NOISE_SLAB_ELEMENTS // pixels[0].size)
    for top in range(0, y1 - y0, step):
        rows = pixels[top : top + step]
        field = rng.normal(0.0, sigma, size=(rows.shape[0], rows.shape[1], 1))
        noisy = np.add(rows, field)  # float64, as image + field
        np.rint(noisy, out=noisy)
        np.clip(noisy, 0, 255, out=noisy)
        out[y0 + top : y0 + top + rows.shape[0], x0:x1] = noisy.astype(image.dtype)
    return out
