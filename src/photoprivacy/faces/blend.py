"""Fitting a generated face into a face box: resize, colour match, blend.

Blends: ``feather`` (elliptical mask with soft edges), ``poisson``
(cv2.seamlessClone, falls back to feather where OpenCV cannot clone, e.g. a
box touching the image border) and ``hard`` (the original: a rectangular paste).
Only pixels inside the face box change.
"""

import cv2
import numpy as np

BLENDS = ("feather", "poisson", "hard")


def match_colour(face, reference):
    """Reinhard colour transfer in Lab: give ``face`` the mean and spread of ``reference``."""
    face_lab = cv2.cvtColor(face, cv2.COLOR_RGB2LAB).astype(np.float64)
    ref_lab = cv2.cvtColor(reference, cv2.COLOR_RGB2LAB).astype(np.float64)
    face_mean, face_std = face_lab.reshape(-1, 3).mean(0), face_lab.reshape(-1, 3).std(0)
    ref_mean, ref_std = ref_lab.reshape(-1, 3).mean(0), ref_lab.reshape(-1, 3).std(0)
    scale = np.where(face_std > 1e-6, ref_std / np.maximum(face_std, 1e-6), 1.0)
    matched = (face_lab - face_mean) * scale + ref_mean
    return cv2.cvtColor(np.clip(np.rint(matched), 0, 255).astype(np.uint8), cv2.COLOR_LAB2RGB)


def elliptical_mask(height, width, feather):
    """Float mask in [0, 1]: an ellipse in the box, its edge softened over ``feather`` of the box
    size and shrunk by as much, so the mask fades out before the box border (no seam)."""
    mask = np.zeros((height, width), np.float32)
    sigma = feather * min(height, width)
    axes = (max(1, int(width / 2 - sigma)), max(1, int(height / 2 - sigma)))
    cv2.ellipse(mask, (width // 2, height // 2), axes, 0, 0, 360, 1.0, -1)
    if sigma > 0:
        kernel = 2 * int(np.ceil(2 * sigma)) + 1
        mask = cv2.GaussianBlur(mask, (kernel, kernel), sigma, borderType=cv2.BORDER_CONSTANT)
    return np.clip(mask, 0.0, 1.0)


def fit_face(image, region, face, colour_match=True, blend="feather", feather=0.15):
    """Put ``face`` (S x S x 3 uint8) into ``region`` of ``image``; return (image, notes)."""
    if blend not in BLENDS:
        raise ValueError(f"unknown face blend '{blend}' (expected one of {BLENDS})")
    x0, y0, x1, y1 = region
    width, height = x1 - x0, y1 - y0
    original = image[y0:y1, x0:x1]
    interpolation = cv2.INTER_AREA if width < face.shape[1] else cv2.INTER_LINEAR
    fitted = cv2.resize(face, (width, height), interpolation=interpolation)
    notes = {}
    if colour_match and width * height > 1:
        fitted = match_colour(fitted, original)
    out = image.copy()
    if blend == "hard":
        out[y0:y1, x0:x1] = fitted
        return out, notes
    if blend == "poisson":
        cloned = _poisson(image, region, fitted)
        if cloned is not None:
            out[y0:y1, x0:x1] = cloned[y0:y1, x0:x1]
            return out, notes
        notes["fallback"] = "poisson blending not possible for this box (too small or at the border): feathered"
    mask = elliptical_mask(height, width, feather)[:, :, None]
    out[y0:y1, x0:x1] = np.clip(np.rint(mask * fitted + (1 - mask) * original), 0, 255).astype(np.uint8)
    return out, notes


def _poisson(image, region, fitted):
    x0, y0, x1, y1 = region
    height, width = image.shape[:2]
    if x0 < 1 or y0 < 1 or x1 > width - 1 or y1 > height - 1 or min(x1 - x0, y1 - y0) < 4:
        return None
    mask = (elliptical_mask(y1 - y0, x1 - x0, 0.0) > 0.5).astype(np.uint8) * 255
    source = np.zeros_like(image)
    source[y0:y1, x0:x1] = fitted
    full_mask = np.zeros(image.shape[:2], np.uint8)
    full_mask[y0:y1, x0:x1] = mask
    ys, xs = np.nonzero(full_mask)
    centre = (int((xs.min() + xs.max() + 1) // 2), int((ys.min() + ys.max() + 1) // 2))
    try:
        return cv2.seamlessClone(source, image, full_mask, centre, cv2.NORMAL_CLONE)
    except cv2.error:
        return None
