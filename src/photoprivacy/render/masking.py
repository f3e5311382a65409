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


def obfuscate_components(image, cleaned, alpha, params, seed):
    """Hide what ``alpha`` covers, each connected component of ``cleaned`` at the strength
    its size needs (render/strength.py). Returns (image, parameters used per component).

    Components are processed in label order with one seeded generator. A method whose effect
    does not depend on size (noise) hides the whole mask in one pass, as ``obfuscate_masked``.
    """
    method = MASK_METHODS[params["method"]]()
    if not method.sized:
        return obfuscate_masked(image, alpha, params["method"], seed, method.fixed_strength(params))
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
        argument = method.relative_strength(face_width, params)
        pad = method.reach(argument)
        cx0, cy0 = max(0, reach[0] - pad), max(0, reach[1] - pad)
        cx1, cy1 = min(width, reach[2] + pad), min(height, reach[3] + pad)
        crop = image[cy0:cy1, cx0:cx1]
        local = (reach[0] - cx0, reach[1] - cy0, reach[2] - cx0, reach[3] - cy0)
        part, logged = method.apply(crop, local, rng, argument)
        inside = np.zeros(crop.shape[:2], bool)
        inside[ry0 + wy0 - cy0 : ry1 + wy0 - cy0, rx0 + wx0 - cx0 : rx1 + wx0 - cx0] = (
            owned[ry0:ry1, rx0:rx1])
        processed[cy0:cy1, cx0:cx1][inside] = part[inside]
        used.append({"component_box": list(core), "face_width": round(face_width, 2), **logged})
    return blend_through(alpha, processed, image), {"strength": "relative", "components": used, "seed": seed}
