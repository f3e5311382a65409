"""Scenario 2 rendering: minor persons obfuscated, major persons' faces replaced.

Minor persons first, then faces, so a major's new face stays visible where
boxes overlap. Every change is a region in the decision log: its box, the
person it belongs to, why (role and scores), the method, its parameters and
the seed. Pixels outside all regions are never touched.
"""

import numpy as np

from ..artifacts import read_json
from ..faces.blend import fit_face
from .obfuscate import obfuscate_region, pixelate_mean
from .output import render_shard
from .regions import box_to_region
NO_GENERATOR_WARNING = "no face generator configured (fakes.generator: none): faces pixelated instead"


def _why(person):
    keys = ("role", "attention_score", "distance", "attention_rank", "distance_rank", "final_score")
    return {key: person[key] for key in keys}


def render_scenario2(image, persons, faces, fakes, params):
    """Return (protected image, regions, warnings)."""
    height, width = image.shape[:2]
    out, regions, warnings = image, [], []
    by_person = {p["person"]: p for p in persons["persons"]}
    minor = params["minor"]
    for person in persons["persons"]:
        if person["role"] != "minor":
            continue
        region = box_to_region(person["box_xyxy"], width, height)
        entry = {"kind": "person", "person": person["person"], "box_xyxy": person["box_xyxy"],
                 "region": None if region is None else list(region), "why": _why(person),
                 "method": minor["method"], "parameters": None, "seed": params["seed"], "note": None}
        if region is None:
            entry.update(method=None, note="box has no area inside the image: nothing to hide")
        else:
            out, entry["parameters"] = obfuscate_region(out, region, minor["method"], minor["block_size"],
                                                        minor["blur_sigma"])
        regions.append(entry)
    face_params = params["face"]
    no_generator = params["generator"] == "none"
    if no_generator and faces["faces"]:
        warnings.append(NO_GENERATOR_WARNING)
    for face in faces["faces"]:
        region = box_to_region(face["box_xyxy"], width, height)
        entry = {"kind": "face", "person": face["person"], "face": face["face"], "box_xyxy": face["box_xyxy"],
                 "region": None if region is None else list(region), "why": _why(by_person[face["person"]]),
                 "method": None, "parameters": None, "seed": params["seed"], "note": None}
        if region is None:
            entry["note"] = "face box has no area inside the image"
        elif no_generator:
            out = pixelate_mean(out, region, face_params["fallback_block_size"])
            entry.update(method="pixelate", parameters={"block_size": face_params["fallback_block_size"]},
                         note=NO_GENERATOR_WARNING)
        else:
            out, notes = fit_face(out, region, fakes[face["face"]], face_params["colour_match"],
                                  face_params["blend"], face_params["feather"])
            entry.update(method=f"replace:{params['generator']}", note=notes.get("fallback"),
                         parameters={key: face_params[key] for key in ("blend", "colour_match", "feather")})
        regions.append(entry)
    return out, regions, warnings


def run_render_shard(items, params, max_pixels):
    """items: dicts with path, persons_json, faces_json, fakes_npz, png and decisions (outputs)."""

    def upstream(item):
        persons, faces = read_json(item["persons_json"]), read_json(item["faces_json"])
        return persons["image_id"], persons["status"], persons["reason"], (persons, faces)

    def render(image, item, context):
        with np.load(item["fakes_npz"]) as arrays:
            fakes = arrays["faces"]
        return render_scenario2(image, *context, fakes, params)

    return render_shard(items, "scenario2", params, max_pixels, upstream, render)
