"""How strong an obfuscation must be for the face it hides.

By default (``mode: relative``) block sizes, blur sigmas and random-mosaic
patches follow the width of the face they hide (render/zones.py says which
face that is for each pixel): about ``blocks_per_face`` blocks across it, or a
blur sigma of its width / ``blur_per_face``. A face found inside a person's box
gives its own width; a person without a found face is estimated at
``face_per_person`` x the shorter side of its box, the median a real face
takes of a standing person's box (README, "Protection strength").

The fixed sizes of the configuration (the original's 9 px blocks, sigma 15,
half-sizes 2-7) are the floor, and what parts of a mask away from every person
get. ``mode: original`` uses the fixed sizes alone, to regenerate published numbers.
"""

import math


def estimated_face_width(box, face_per_person):
    """The face width (px) of a person whose face was not found: ``face_per_person`` x its box's shorter side."""
    x0, y0, x1, y1 = box
    return face_per_person * min(x1 - x0, y1 - y0)


def face_box_width(box):
    """The width (px) of a found face: its box's width."""
    return box[2] - box[0]


def block_size(face_width, base, strength):
    """Mosaic / pixelate block side: about ``blocks_per_face`` blocks across the face (rounded
    up, so never more blocks), at least ``base``."""
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
    """Random mosaic half-size range for a face. Relative strength: one half-size, whose patch
    (2k + 1) is the relative block rounded up to odd, so the face gets about ``blocks_per_face``
    patches across it (the source pixels stay random); the original's range of sizes would
    spread that count threefold. The configured range's middle patch is the floor (9 px for 2-7)."""
    low, high = base
    if strength["mode"] == "original":
        return (low, high)
    half = math.ceil((block_size(face_width, 2 * ((low + high) // 2) + 1, strength) - 1) / 2)
    return (half, half)
