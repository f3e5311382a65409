"""Scenario 1 rendering: hide the union of the enabled mask components.

The union is cleaned (one erosion, one dilation), feathered, and the chosen
method's result is blended in through it. The output keeps the original
resolution; ``resize`` reproduces the original's 336 x 336 output (a quirk).
"""

import cv2
import numpy as np

from ..artifacts import read_json, write_bytes_atomic, write_json
from ..errors import ImageRejected
from ..images import load_rgb
from ..seeds import derived_seed
from .masking import clean, feather, obfuscate_masked, union
from .output import PLACEHOLDER, decision_log, png_bytes


def method_strength(params):
    """The strength argument of ``obfuscate_masked`` for the configured method."""
    method = params["method"]
    if method == "random_mosaic":
        return tuple(params["mosaic_half_sizes"])
    if method == "pixelate":
        return params["block_size"]
    if method == "blur":
        return (params["blur_kernel"], params["blur_sigma"])
    return params["noise_sigma"]


def render_scenario1(image, masks, record, params, image_id):
    """Return (protected image, regions, warnings)."""
    enabled = params["components"]
    cleaned = clean(union(masks, enabled), params["clean_kernel"])
    alpha = feather(cleaned, params["feather_sigma"])
    seed = derived_seed(params["seed"], image_id, "scenario1")
    out, used = obfuscate_masked(image, alpha, params["method"], seed, method_strength(params))
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
        out = cv2.resize(out, (size, size), interpolation=cv2.INTER_AREA)
        warnings.append(f"output resized to {size}x{size} (the original method's quirk)")
    return out, regions, warnings


def run_render_scenario1_shard(items, params, max_pixels):
    """items: dicts with id, path, masks_npz, masks_json, png and decisions (outputs)."""
    counts = {"images": 0, "rejected": 0}
    for item in items:
        record = read_json(item["masks_json"])
        status, reason = record["status"], record["reason"]
        image = None
        if status == "ok":
            try:
                image = load_rgb(item["path"], max_pixels)
            except ImageRejected as rejected:
                status, reason = "rejected", rejected.reason
        if image is None:
            write_bytes_atomic(item["png"], png_bytes(PLACEHOLDER))
            write_json(item["decisions"], decision_log("scenario1", item["id"], status, reason, params, [], []))
            counts["rejected"] += 1
            continue
        with np.load(item["masks_npz"]) as arrays:
            masks = {name: arrays[name] for name in arrays.files}
        protected, regions, warnings = render_scenario1(image, masks, record, params, item["id"])
        write_bytes_atomic(item["png"], png_bytes(protected))
        write_json(item["decisions"], decision_log("scenario1", item["id"], status, reason, params, regions, warnings))
        counts["images"] += 1
    return counts
