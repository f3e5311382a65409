"""How strong an obfuscation must be for what it hides.

A fixed 9 px mosaic that hides a 40 px face leaves a 200 px face
recognisable, so by default (``mode: relative``) block sizes, blur sigmas
and random-mosaic patch sizes grow with the face they hide:

- a face region's face is its own shorter side;
- a person box, a head region or a scenario 1 mask component holds a face
  of about ``face_per_person`` x its shorter side (the largest face such a
  box can plausibly hold, so the estimate errs on the strong side).

The fixed sizes of the configuration (the original's 9 px blocks, sigma 15,
half-sizes 2-7) are the floor: relative strength is never weaker than them.
``mode: original`` uses the fixed sizes alone, to regenerate published numbers.
The ratios were chosen by measurement (README, "Protection strength").
"""

import math

STRENGTH_MODES = ("relative", "original")


def region_face_width(region, face_per_person):
    """The face width (px) a person box, head region or mask component of ``region`` may hold."""
    x0, y0, x1, y1 = region
    return face_per_person * min(x1 - x0, y1 - y0)


def face_region_width(region):
    """The face width (px) of a face box: its shorter side."""
    x0, y0, x1, y1 = region
    return min(x1 - x0, y1 - y0)


def block_size(face_width, base, strength):
    """Mosaic / pixelate block side: at most ``blocks_per_face`` blocks across the face, at least ``base``."""
    if strength["mode"] == "original":
        return base
    return max(base, math.ceil(face_width / strength["blocks_per_face"]))


def blur_sigma(face_width, base, strength):
    """Gaussian sigma: the face width over ``blur_per_face``, at least ``base``."""
    if strength["mode"] == "original":
        return base
    return max(base, round(face_width / strength["blur_per_face"], 2))


def blur_kernel(sigma, base_kernel, base_sigma):
    """The kernel side for ``sigma``, in the configured kernel-to-sigma proportion (odd, >= ``base_kernel``)."""
    if sigma <= base_sigma:
        return base_kernel
    side = math.ceil(base_kernel * sigma / base_sigma)
    return side if side % 2 else side + 1


def mosaic_half_sizes(face_width, base, strength):
    """Random mosaic half-size range: the configured range moved up until its smallest
    patch (side 2k + 1) is as large as a relative block."""
    low, high = base
    if strength["mode"] == "original":
        return (low, high)
    side = block_size(face_width, 2 * low + 1, strength)
    shift = max(0, math.ceil((side - 1) / 2) - low)
    return (low + shift, high + shift)
