"""Scenario 1 masks: union of components, cleaning, feathering, and hiding what they cover.

Masks are kept per component (persons, related objects, w1 attention, w2
attention, scene relevance); the ones a variant switches on are united,
cleaned with one erosion and one dilation (as the original did, removing
specks), feathered, and the obfuscated image is blended in through them.
"""

import cv2
import numpy as np

from .obfuscate import MASK_METHODS, gaussian_blur, gaussian_noise, pixelate_mean, random_offset_mosaic


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


def clean(mask, kernel=5):
    """One erosion then one dilation with a square kernel (morphological opening)."""
    if kernel <= 1:
        return mask.astype(bool)
    element = np.ones((kernel, kernel), np.uint8)
    opened = cv2.dilate(cv2.erode(mask.astype(np.uint8), element), element)
    return opened.astype(bool)


def feather(mask, sigma=0.0):
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
    """Hide what ``alpha`` covers. Returns (image, parameters used).

    ``strength`` per method: random_mosaic -> (min, max) patch half-size;
    pixelate -> block size; blur -> (kernel, sigma); noise -> sigma.
    """
    region = bounding_region(alpha)
    if region is None:
        return image.copy(), {"note": "empty mask: nothing hidden"}
    rng = np.random.default_rng(seed)
    if method == "random_mosaic":
        processed, half = random_offset_mosaic(image, region, rng, tuple(strength))
        params = {"half_sizes": list(strength), "half_size": half}
    elif method == "pixelate":
        processed, params = pixelate_mean(image, region, int(strength)), {"block_size": int(strength)}
    elif method == "blur":
        kernel, sigma = strength
        processed, params = gaussian_blur(image, region, sigma, kernel), {"kernel": kernel, "sigma": sigma}
    elif method == "noise":
        processed, params = gaussian_noise(image, region, rng, float(strength)), {"sigma": float(strength)}
    else:
        raise ValueError(f"unknown mask method '{method}' (expected one of {MASK_METHODS})")
    weight = alpha[:, :, None]
    blended = np.rint(weight * processed + (1.0 - weight) * image)
    return np.clip(blended, 0, 255).astype(image.dtype), dict(params, seed=seed)
