"""Scenario 1 rendering: hide the union of the enabled mask components.

The union is cleaned (one erosion, one dilation), feathered, and the chosen
method's result is blended in through it: by default each connected component
at the strength its size needs (render/strength.py), with ``strength.mode:
original`` one pass of the original's fixed sizes over the whole union. The output keeps the original
resolution. ``resize: 336`` reproduces the original's quirk: the photo and its
masks are resized to 336 x 336 first, so cleaning, obfuscation (patch sizes,
blur kernel) and the output all work at 336, which makes fixed sizes
relatively much stronger on a large photo.
"""

import cv2
import numpy as np

from ..artifacts import read_json
from ..seeds import derived_seed
from .masking import clean, feather, obfuscate_components, obfuscate_masked, union
from .methods import MASK_METHODS
from .output import render_shard


def at_work_size(image, masks, size):
    """The photo (area-averaged) and its masks (nearest) at ``size`` x ``size``; unchanged when size is None.

    Masks are resampled as masks, not re-thresholded, so a region keeps its
    shape up to one pixel of the smaller grid.
    """
    if not size:
        return image, masks
    small = None if image is None else cv2.resize(image, (size, size), interpolation=cv2.INTER_AREA)
    return small, {
        name: cv2.resize(mask.astype(np.uint8), (size, size), interpolation=cv2.INTER_NEAREST).astype(bool)
        for name, mask in masks.items()
    }


def render_scenario1(image, masks, record, params, image_id):
    """Return (protected image, regions, warnings)."""
    image, masks = at_work_size(image, masks, params["resize"])
    enabled = params["components"]
    cleaned = clean(union(masks, enabled), params["clean_kernel"])
    alpha = feather(cleaned, params["feather_sigma"])
    seed = derived_seed(params["seed"], image_id, "scenario1")
    if params["strength"]["mode"] == "original":
        strength = MASK_METHODS[params["method"]]().fixed_strength(params)
        out, used = obfuscate_masked(image, alpha, params["method"], seed, strength)
    else:
        out, used = obfuscate_components(image, cleaned, alpha, params, seed)
    regions, warnings = [], []
    for name in enabled:
        component = record["components"][name]
        regions.append({
            "kind": "mask", "component": name, "pixels": int((masks[name] & cleaned).sum()),
            "source": component["source"], "method": params["method"], "parameters": used, "seed": seed,
            "note": component["note"],
        })
    if not cleaned.any():
        warnings.append("nothing to hide: the enabled mask components are empty")
    if params["resize"]:
        size = params["resize"]
        warnings.append(f"worked at {size}x{size} and written at that size (the original method's quirk)")
    return out, regions, warnings


def run_render_scenario1_shard(items, params, max_pixels):
    """items: dicts with id, path, masks_npz, masks_json, png and decisions (outputs)."""

    def upstream(item):
        record = read_json(item["masks_json"])
        return item["id"], record["status"], record["reason"], record

    def render(image, item, record):
        with np.load(item["masks_npz"]) as arrays:
            masks = {name: arrays[name] for name in arrays.files}
        return render_scenario1(image, masks, record, params, item["id"])

    return render_shard(items, "scenario1", params, max_pixels, upstream, render)
