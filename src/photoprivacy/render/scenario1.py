"""Scenario 1 rendering: hide the union of the enabled mask components.

The union is cleaned (one erosion, one dilation), feathered, and the chosen
method's result is blended in through it: by default zone by zone, each
person's pixels at the strength its face needs and the rest at the configured
fixed sizes (render/zones.py), so merging components changes no block size;
with ``strength.mode: original`` one pass of the original's fixed sizes over the
whole union. The output keeps the original resolution. ``resize: 336``
reproduces the original's quirk: the photo and its masks are resized to
336 x 336 first, so cleaning, obfuscation (patch sizes, blur kernel) and the
output all work at 336, which makes fixed sizes relatively much stronger on a
large photo.
"""

import cv2
import numpy as np

from ..artifacts import read_json
from ..masks.stage import read_masks
from ..progress import tracked
from ..seeds import derived_seed
from .masking import blend_through, clean, feather, obfuscate_masked, union
from .methods import MASK_METHODS
from .output import render_shard
from .zones import OTHER, hide_zones, owned_pixels, zone_record, zones_of_records


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


def render_scenario1(image, masks, record, people, params, image_id):
    """Return (protected image, regions, strength zones, warnings). ``people``: the image's
    persons and faces records, whose boxes size the strength (render/zones.py)."""
    full_height, full_width = image.shape[:2]
    image, masks = at_work_size(image, masks, params["resize"])
    height, width = image.shape[:2]
    zones = zones_of_records(*people, width, height, params["strength"]["face_per_person"],
                             (width / full_width, height / full_height))
    enabled = params["components"]
    cleaned = clean(union(masks, enabled), params["clean_kernel"])
    alpha = feather(cleaned, params["feather_sigma"])
    seed = derived_seed(params["seed"], image_id, "scenario1")
    out, used, zone_log = hide_mask(image, alpha, zones, params, seed)
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
    return out, regions, zone_log, warnings


def hide_mask(image, alpha, zones, params, seed):
    """(image with what ``alpha`` covers hidden, parameters, strength zone log). Relative strength:
    zone by zone with one seeded generator; original strength, or a method whose effect does not
    depend on size (noise): one pass of the fixed sizes over the whole mask."""
    method = MASK_METHODS[params["method"]]()
    area = alpha > 0
    if params["strength"]["mode"] == "original" or not method.sized:
        out, used = obfuscate_masked(image, alpha, params["method"], seed, method.fixed_strength(params))
        zone_log = [zone_record(zone, region, params["method"], used, method.resolution(used))
                    for zone, region, _ in owned_pixels(zones, area)]
        return out, used, zone_log
    rng = np.random.default_rng(seed)

    def strength_of(zone):
        return method.fixed_strength(params) if zone is OTHER else method.relative_strength(zone.face_width, params)

    def hide(crop, region, strength):
        return method.apply(crop, region, rng, strength)

    processed, hidden = hide_zones(image, area, zones, strength_of, hide, method.reach)
    zone_log = [zone_record(zone, region, params["method"], parameters, method.resolution(parameters))
                for zone, region, parameters in hidden]
    return blend_through(alpha, processed, image), {"strength": "relative", "seed": seed}, zone_log


def run_render_scenario1_shard(items, params, max_pixels):
    """items: dicts with id, path, masks_npz, masks_json, persons_json, faces_json, png and decisions (outputs)."""

    def upstream(item):
        record = read_json(item["masks_json"])
        return item["id"], record["status"], record["reason"], record

    def render(image, item, record):
        people = read_json(item["persons_json"]), read_json(item["faces_json"])
        return render_scenario1(image, read_masks(item["masks_npz"]), record, people, params, item["id"])

    return render_shard(tracked(items), "scenario1", params, max_pixels, upstream, render)
