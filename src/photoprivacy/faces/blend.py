"""Fitting a generated face into a face box: resize, colour match, blend.

Blends: ``feather`` (the face covers its whole box and fades out over a band
outside it), ``poisson`` (cv2.seamlessClone over the whole box; falls back to
feather where OpenCV cannot clone, e.g. a box touching the image border) and
``hard`` (the original: a rectangular paste). No pixel inside the face box
keeps the real face; only the feather band outside the box mixes the two.
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


def feather_band(width, height, margin):
    """Float alpha over a box grown by ``margin`` px on each side: 1 on the whole box, falling
    smoothly to 0 at the grown edge. The feather runs outward, so no pixel of the box keeps
    any of the face it replaces."""
    ys = np.arange(height + 2 * margin, dtype=np.float32)[:, None]
    xs = np.arange(width + 2 * margin, dtype=np.float32)[None, :]
    # Distance (px) of each pixel centre from the box, 0 inside it.
    dy = np.maximum(np.maximum(margin - ys - 0.5, ys + 0.5 - (margin + height)), 0.0)
    dx = np.maximum(np.maximum(margin - xs - 0.5, xs + 0.5 - (margin + width)), 0.0)
    if margin == 0:
        return np.ones((height, width), np.float32)
    ramp = np.clip(1.0 - np.hypot(dx, dy) / margin, 0.0, 1.0)
    return ramp * ramp * (3.0 - 2.0 * ramp)  # smoothstep: no visible edge at either end


def fit_face(image, region, face, colour_match, blend, feather):
    """Put ``face`` (S x S x 3 uint8) into ``region`` of ``image``.

    Returns (image, changed region, notes). ``feather`` is the width of the
    outward blend band as a share of the box's shorter side; the changed
    region is the box grown by it (clipped to the image).
    """
    if blend not in BLENDS:
        raise ValueError(f"unknown face blend '{blend}' (expected one of {BLENDS})")
    x0, y0, x1, y1 = region
    width, height = x1 - x0, y1 - y0
    notes = {}
    out = image.copy()
    if blend == "poisson":
        cloned = _poisson(image, region, _fitted(face, image[y0:y1, x0:x1], width, height, colour_match))
        if cloned is not None:
            out[y0:y1, x0:x1] = cloned[y0:y1, x0:x1]
            return out, tuple(region), notes
        notes["fallback"] = "poisson blending not possible for this box (too small or at the border): feathered"
    margin = 0 if blend == "hard" else round(feather * min(width, height))
    # The generated face covers the box and the band; the band fades into the photo around it.
    grown = (x0 - margin, y0 - margin, x1 + margin, y1 + margin)
    fitted = _fitted(face, image[y0:y1, x0:x1], width + 2 * margin, height + 2 * margin, colour_match)
    alpha = feather_band(width, height, margin)[:, :, None]
    img_h, img_w = image.shape[:2]
    cx0, cy0, cx1, cy1 = max(0, grown[0]), max(0, grown[1]), min(img_w, grown[2]), min(img_h, grown[3])
    crop = (slice(cy0 - grown[1], cy1 - grown[1]), slice(cx0 - grown[0], cx1 - grown[0]))
    below = image[cy0:cy1, cx0:cx1].astype(np.float32)
    blended = alpha[crop] * fitted[crop] + (1.0 - alpha[crop]) * below
    out[cy0:cy1, cx0:cx1] = np.clip(np.rint(blended), 0, 255).astype(np.uint8)
    return out, (cx0, cy0, cx1, cy1), notes


def _fitted(face, original, width, height, colour_match):
    """The face resized to width x height, its colours matched to the original face box."""
    interpolation = cv2.INTER_AREA if width < face.shape[1] else cv2.INTER_LINEAR
    fitted = cv2.resize(face, (width, height), interpolation=interpolation)
    if colour_match and original.shape[0] * original.shape[1] > 1:
        fitted = match_colour(fitted, original)
    return fitted


def _poisson(image, region, fitted):
    x0, y0, x1, y1 = region
    height, width = image.shape[:2]
    if x0 < 1 or y0 < 1 or x1 > width - 1 or y1 > height - 1 or min(x1 - x0, y1 - y0) < 4:
        return None
    # The whole box, so Poisson blending replaces every pixel of it (only its border colours carry over).
    mask = np.full((y1 - y0, x1 - x0), 255, np.uint8)
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
