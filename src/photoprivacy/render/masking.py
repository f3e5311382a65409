"""Scenario 1 masks: union of components, cleaning, feathering, and hiding what they cover.

Masks are kept per component (persons, related objects, w1 attention, w2
attention, scene relevance); the ones a variant switches on are united,
cleaned with one erosion and one dilation (as the original did, removing
specks), feathered, and the obfuscated image is blended in through them
(zone by zone, each at the strength of the face it hides: render/zones.py).
"""

import cv2
import numpy as np

from .methods import MASK_METHODS


def union(masks, enabled):
    """Boolean union of the enabled components (all of the same shape)."""
    missing = [name for name in enabled if name not in masks]
    if missing:
        raise ValueError(f"unknown mask component(s) {missing} (have {sorted(masks)})")
    if not enabled:
        raise ValueError("no mask component enabled")
    combined = np.zeros_like(next(iter(masks.values())), dtype=bool)
    for name in enabled:
        combined |= masks[name].astype(bool)
    return combined


def clean(mask, kernel):
    """One erosion then one dilation with a square kernel (morphological opening)."""
    if kernel <= 1:
        return mask.astype(bool)
    element = np.ones((kernel, kernel), np.uint8)
    opened = cv2.dilate(cv2.erode(mask.astype(np.uint8), element), element)
    return opened.astype(bool)


def feather(mask, sigma):
    """Float alpha in [0, 1]; sigma 0 keeps the hard edge."""
    alpha = mask.astype(np.float32)
    if sigma > 0:
        size = 2 * int(np.ceil(3 * sigma)) + 1
        alpha = cv2.GaussianBlur(alpha, (size, size), sigma, borderType=cv2.BORDER_REPLICATE)
    return np.clip(alpha, 0.0, 1.0)


def bounding_region(alpha):
    """(x0, y0, x1, y1) around the non-zero alpha, or None."""
    ys, xs = np.nonzero(alpha > 0)
    if len(xs) == 0:
        return None
    return int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1


def obfuscate_masked(image, alpha, method, seed, strength):
    """Hide what ``alpha`` covers with the named method (``methods.MASK_METHODS``) at ``strength``.
    Returns (image, parameters used)."""
    region = bounding_region(alpha)
    if region is None:
        return image.copy(), {"note": "empty mask: nothing hidden"}
    processed, params = MASK_METHODS[method]().apply(image, region, np.random.default_rng(seed), strength)
    return blend_through(alpha, processed, image), dict(params, seed=seed)


def blend_through(alpha, processed, image):
    """``processed`` where ``alpha`` is 1, ``image`` where it is 0, rounded in between."""
    weight = alpha[:, :, None]
    return np.clip(np.rint(weight * processed + (1.0 - weight) * image), 0, 255).astype(image.dtype)
