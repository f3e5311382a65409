"""Scenario 2 rendering: minor persons obfuscated, major persons' faces replaced.

Minor persons first, then faces, so a major's new face stays visible where
boxes overlap. A major person whose face was not found gets the minor
persons' method on the head region (the top of the box, as tall as the box
is wide), so no face of a major person stays as it was; ``no_face: keep`` is
the original behaviour (the face stays, the log says so). Obfuscation
strength follows the face each pixel hides (render/zones.py). Every change
is a region in the decision log: its box, the person it belongs to, why
(role and scores), the method, its parameters and the seed. Pixels outside
all regions are never touched (a replaced face's feather reaches a few
pixels past its box; its region says how far).
"""

import numpy as np

from ..artifacts import read_json
from ..faces.blend import fit_face
from ..geometry import box_to_region, boxes_mask
from ..progress import tracked
from . import strength
from .methods import REGION_METHODS
from .obfuscate import pixelate_mean
from .output import render_shard
from .zones import FACE_SOURCE, Zone, head_region, hide_zones, zone_record, zones_of_records

# render.face keys that fit a generated face into its box; with fakes.generator none the faces are
# pixelated with fallback_block_size instead. The stage's params hold the keys that apply.
FACE_FITTING_KEYS = ("blend", "colour_match", "feather")
NO_GENERATOR_WARNING = "no face generator configured (fakes.generator: none): faces pixelated instead"
NO_FACE_HEAD_NOTE = "no face found in the major person's box: the head region is obfuscated instead"
NO_FACE_KEEP_NOTE = "no face found in the major person's box: left as it is (render.face.no_face: keep)"


def face_settings(face, generator):
    """render.face without the keys that do not apply to ``generator`` (fakes.generator)."""
    unused = FACE_FITTING_KEYS if generator == "none" else ("fallback_block_size",)
    return {key: value for key, value in face.items() if key not in unused}


def _why(person):
    keys = ("role", "attention_score", "distance", "attention_rank", "distance_rank", "final_score")
    return {key: person[key] for key in keys}


def render_scenario2(image, persons, faces, fakes, params):
    """Return (protected image, regions, strength zones, warnings)."""
    height, width = image.shape[:2]
    regions, warnings = [], []
    by_person = {p["person"]: p for p in persons["persons"]}
    for person in persons["persons"]:
        if person["role"] != "minor":
            continue
        region = box_to_region(person["box_xyxy"], width, height)
        entry = {"kind": "person", "person": person["person"], "box_xyxy": person["box_xyxy"],
                 "region": None if region is None else list(region), "why": _why(person),
                 "method": params["minor"]["method"], "parameters": None, "seed": params["seed"], "note": None}
        if region is None:
            entry.update(method=None, note="box has no area inside the image: nothing to hide")
        regions.append(entry)
    # Heads before faces, like minors: a head region never covers another major's new face.
    regions += _heads_without_faces(persons, faces, params, width, height)
    out, zone_log = _hide_persons(image, persons, faces, regions, params)
    out = _replace_faces(out, faces, fakes, by_person, params, regions, zone_log, warnings)
    return out, regions, zone_log, warnings


def _hide_persons(image, persons, faces, regions, params):
    """Obfuscate the regions of minors and of heads to protect, each pixel at the strength of the
    face it hides; each region's parameters are its own zone's (its person's body or head)."""
    height, width = image.shape[:2]
    minor, settings = params["minor"], params["strength"]
    method = REGION_METHODS[minor["method"]]()
    zones = zones_of_records(persons, faces, width, height, settings["face_per_person"])
    hidden = [r for r in regions if r["method"] is not None]
    area = boxes_mask([r["region"] for r in hidden], height, width)

    def strength_of(zone):
        return method.strength(zone.face_width, minor, settings)

    out, used = hide_zones(image, area, zones, strength_of, lambda crop, region, s: method.apply(crop, region, s),
                           method.reach)
    own = {(zone.kind, zone.person): zone for zone in zones}
    for entry in hidden:
        # A minor's box is its person zone. A major whose box search found no face has a head zone, or,
        # when the pass over the whole photo found its face, its head is sized like its body, by that face.
        zone = own.get((entry["kind"], entry["person"])) or own[("person", entry["person"])]
        entry["parameters"] = {method.logged_as: strength_of(zone), "face_width": round(float(zone.face_width), 2),
                               "width_source": zone.width_source}
    zone_log = [zone_record(zone, region, minor["method"], parameters, method.resolution(parameters))
                for zone, region, parameters in used]
    return out, zone_log


def _replace_faces(out, faces, fakes, by_person, params, regions, zone_log, warnings):
    height, width = out.shape[:2]
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
            width = strength.face_box_width(region)
            block = strength.block_size(width, face_params["fallback_block_size"], params["strength"])
            out = pixelate_mean(out, region, block)
            entry.update(method="pixelate", parameters={"block_size": block}, note=NO_GENERATOR_WARNING)
            zone = Zone("face", face["person"], region, width, FACE_SOURCE)
            zone_log.append(zone_record(zone, region, "pixelate", entry["parameters"], (block, None)))
        else:
            out, changed, notes = fit_face(out, region, fakes[face["face"]], face_params["colour_match"],
                                           face_params["blend"], face_params["feather"])
            entry.update(method=f"replace:{params['generator']}", note=notes.get("fallback"), region=list(changed),
                         parameters={key: face_params[key] for key in FACE_FITTING_KEYS})
        regions.append(entry)
    return out


def _heads_without_faces(persons, faces, params, width, height):
    """Region entries of the majors whose box gave no face: their head region is obfuscated
    (the minor method) or, with render.face.no_face: keep, kept and logged."""
    with_face = {face["person"] for face in faces["faces"]}
    entries = []
    for person in persons["persons"]:
        if person["role"] != "major" or person["person"] in with_face:
            continue
        region = head_region(person["box_xyxy"], width, height)
        if region is None:
            continue  # the faces stage noted that the box has no area inside the image
        entry = {"kind": "head", "person": person["person"], "box_xyxy": person["box_xyxy"], "region": None,
                 "why": _why(person), "method": None, "parameters": None, "seed": params["seed"],
                 "note": NO_FACE_KEEP_NOTE}
        if params["face"]["no_face"] == "protect_head":
            entry.update(region=list(region), method=params["minor"]["method"], note=NO_FACE_HEAD_NOTE)
        entries.append(entry)
    return entries


def run_render_shard(items, params, max_pixels):
    """items: dicts with path, persons_json, faces_json, fakes_npz, png and decisions (outputs)."""

    def upstream(item):
        persons, faces = read_json(item["persons_json"]), read_json(item["faces_json"])
        return persons["image_id"], persons["status"], persons["reason"], (persons, faces)

    def render(image, item, context):
        with np.load(item["fakes_npz"]) as arrays:
            fakes = arrays["faces"]
        return render_scenario2(image, *context, fakes, params)

    return render_shard(tracked(items), "scenario2", params, max_pixels, upstream, render)
