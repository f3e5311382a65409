"""Scenario 1 masks: union of components, cleaning, feathering, and hiding what they cover.

Masks are kept per component (persons, related objects, w1 attention, w2
attention, scene relevance); the ones a variant switches on are united,
cleaned with one erosion and one dilation (as the original did, removing
specks), feathered, and the obfuscated image is blended in through them.
"""

import math

import cv2
import numpy as np

from . import strength as strengths
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


def nearest_component_labels(mask):
    """(labels, boxes): for every pixel the number (1..n) of the connected component of
    ``mask`` nearest to it (so a feathered edge belongs to its component), and each
    component's bounding box (x0, y0, x1, y1), end-exclusive."""
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    boxes = [(int(x), int(y), int(x + w), int(y + h)) for x, y, w, h, _ in stats[1:]]
    if count <= 2:  # one component (or none): it is the nearest everywhere
        return np.full(mask.shape, count - 1, np.int32), boxes
    # Distance transform of the background, labelled by the nearest mask pixel's component.
    _, nearest_pixel = cv2.distanceTransformWithLabels(
        (~mask).astype(np.uint8), cv2.DIST_L2, 5, labelType=cv2.DIST_LABEL_PIXEL
    )
    # DIST_LABEL_PIXEL numbers each zero (mask) pixel in scan order; map those numbers to components.
    component_of_pixel = np.concatenate([[0], labels[mask]])
    return component_of_pixel[nearest_pixel].astype(np.int32), boxes


def component_strength(method, face_width, params):
    """(method argument, parameters for the log) of one component under relative strength."""
    settings = params["strength"]
    if method == "random_mosaic":
        halves = strengths.mosaic_half_sizes(face_width, tuple(params["mosaic_half_sizes"]), settings)
        return halves, {"half_sizes": list(halves)}
    if method == "pixelate":
        block = strengths.block_size(face_width, params["block_size"], settings)
        return block, {"block_size": block}
    sigma = strengths.blur_sigma(face_width, params["blur_sigma"], settings)
    kernel = strengths.blur_kernel(sigma, params["blur_kernel"], params["blur_sigma"])
    return (kernel, sigma), {"kernel": kernel, "sigma": sigma}


def obfuscate_components(image, cleaned, alpha, params, seed):
    """Hide what ``alpha`` covers, each connected component of ``cleaned`` at the strength
    its size needs (render/strength.py). Returns (image, parameters used per component).

    Components are processed in label order with one seeded generator. Noise does not
    depend on size, so it takes ``obfuscate_masked``'s single field.
    """
    method = params["method"]
    if method not in ("random_mosaic", "pixelate", "blur"):
        return obfuscate_masked(image, alpha, method, seed, params["noise_sigma"])
    labels, boxes = nearest_component_labels(cleaned)
    if not boxes:
        return image.copy(), {"note": "empty mask: nothing hidden"}
    rng = np.random.default_rng(seed)
    height, width = image.shape[:2]
    reach_margin = math.ceil(3 * params["feather_sigma"]) + 1  # how far the feathered alpha reaches
    processed, used = image.copy(), []
    for label, core in enumerate(boxes, start=1):
        # Everything below looks at a window around the component only: cost follows its size.
        wx0, wy0 = max(0, core[0] - reach_margin), max(0, core[1] - reach_margin)
        wx1, wy1 = min(width, core[2] + reach_margin), min(height, core[3] + reach_margin)
        owned = labels[wy0:wy1, wx0:wx1] == label
        rx0, ry0, rx1, ry1 = bounding_region(owned & (alpha[wy0:wy1, wx0:wx1] > 0))
        reach = (rx0 + wx0, ry0 + wy0, rx1 + wx0, ry1 + wy0)
        face_width = strengths.region_face_width(core, params["strength"]["face_per_person"])
        argument, logged = component_strength(method, face_width, params)
        # The methods read at most this far outside their region (random mosaic: its source offsets).
        pad = {"random_mosaic": 2 * argument[1] if method == "random_mosaic" else 0, "pixelate": 0,
               "blur": argument[0] // 2 if method == "blur" else 0}[method]
        cx0, cy0 = max(0, reach[0] - pad), max(0, reach[1] - pad)
        cx1, cy1 = min(width, reach[2] + pad), min(height, reach[3] + pad)
        crop = image[cy0:cy1, cx0:cx1]
        local = (reach[0] - cx0, reach[1] - cy0, reach[2] - cx0, reach[3] - cy0)
        if method == "random_mosaic":
            part, half = random_offset_mosaic(crop, local, rng, argument)
            logged["half_size"] = half
        elif method == "pixelate":
            part = pixelate_mean(crop, local, argument)
        else:
            part = gaussian_blur(crop, local, argument[1], argument[0])
        inside = np.zeros(crop.shape[:2], bool)
        inside[ry0 + wy0 - cy0 : ry1 + wy0 - cy0, rx0 + wx0 - cx0 : rx1 + wx0 - cx0] = (
            owned[ry0:ry1, rx0:rx1])
        processed[cy0:cy1, cx0:cx1][inside] = part[inside]
        used.append({"component_box": list(core), "face_width": round(face_width, 2), **logged})
    weight = alpha[:, :, None]
    blended = np.rint(weight * processed + (1.0 - weight) * image)
    return np.clip(blended, 0, 255).astype(image.dtype), {"strength": "relative", "components": used, "seed": seed}
