"""The masks stage over one shard: component masks (npz) and what made them (json)."""

import numpy as np

from ..artifacts import provenance, read_json, write_json, write_npz
from ..detection.coco import PERSON_LABEL_ID
from ..geometry import boxes_mask
from ..language.words import word_texts
from ..progress import tracked
from ..records import after
from ..stages import STAGE_VERSIONS
from .components import COMPONENTS, heat_mask, related_object_boxes, words_mask
from .heatmaps import SCENE_UPSAMPLING

SCHEMA_VERSION = 1


def build_masks(detection, relations, caption, word_maps, language, scene, relevance_grid, params):
    """Return (masks dict name -> bool (H, W), record)."""
    record = after(detection, provenance("masks", STAGE_VERSIONS["masks"], params), SCHEMA_VERSION, components={})
    if detection["status"] != "ok":
        return {name: np.zeros((0, 0), bool) for name in COMPONENTS}, record
    height, width = detection["image"]["height"], detection["image"]["width"]
    persons = [d["box_xyxy"] for d in detection["detections"] if d["label_id"] == PERSON_LABEL_ID]
    object_boxes, object_indices = related_object_boxes(detection, relations, params["object_predicates"])
    language_ok = language.get("status", "ok") == "ok"
    w1 = word_texts(language.get("w1", [])) if language_ok else []
    w2 = word_texts(language.get("w2", [])) if language_ok else []
    caption_words = caption.get("words", [])
    masks, sources = {}, {}
    masks["persons"], sources["persons"] = boxes_mask(persons, height, width), (
        {"boxes": len(persons)}, None if persons else "no person detected")
    masks["objects"], sources["objects"] = boxes_mask(object_boxes, height, width), (
        {"objects": object_indices}, None if object_indices else "no related object")
    for name, words in (("w1", w1), ("w2", w2)):
        mask, note = words_mask(words, caption_words, word_maps, height, width, params["word_threshold"],
                                params["word_upsampling"])
        masks[name], sources[name] = mask, ({"words": words}, note)
    if scene.get("status", "ok") == "ok" and relevance_grid.size:
        masks["scene"], note = heat_mask(relevance_grid, height, width, params["scene_threshold"], SCENE_UPSAMPLING)
    else:
        masks["scene"], note = np.zeros((height, width), bool), scene.get("reason") or "no relevance map"
    sources["scene"] = ({"label": scene.get("label")}, note)
    for name in COMPONENTS:
        source, note = sources[name]
        record["components"][name] = {"pixels": int(masks[name].sum()), "source": source, "note": note}
    return masks, record


def read_masks(path):
    """Component name -> mask, from the npz this stage writes."""
    with np.load(path) as arrays:
        return {name: arrays[name] for name in arrays.files}


def run_masks_shard(items, params):
    """items: dicts with detect_json, relations_json, caption_json, caption_npz, language_json,
    scene_json, scene_npz, npz and json (outputs)."""
    counts = {"images": 0}
    for item in tracked(items):
        with np.load(item["caption_npz"]) as arrays:
            word_maps = arrays["maps"]
        with np.load(item["scene_npz"]) as arrays:
            relevance = arrays["relevance"]
        masks, record = build_masks(
            read_json(item["detect_json"]), read_json(item["relations_json"]), read_json(item["caption_json"]),
            word_maps, read_json(item["language_json"]), read_json(item["scene_json"]), relevance, params,
        )
        write_npz(item["npz"], **masks)
        write_json(item["json"], record)
        counts["images"] += 1
    return counts
