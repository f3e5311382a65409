"""The persons stage: per image, every detected person's scores, ranks and role."""

import numpy as np

from ..artifacts import provenance, read_json, write_json
from ..detection.coco import PERSON_LABEL_ID
from ..progress import tracked
from ..records import after
from ..stages import STAGE_VERSIONS
from .scoring import attention_score, distance_to_centre, major_count, rank_persons, select_majors

SCHEMA_VERSION = 1


def score_persons(detection, attention, params):
    """The persons record (workflow/schemas/persons.schema.json) of one image.

    ``detection`` is the detection JSON, ``attention`` its (n, h, w) maps.
    """
    prov = provenance("persons", STAGE_VERSIONS["persons"], params)
    record = after(detection, prov, SCHEMA_VERSION, image=detection["image"], scoring=None, persons=[])
    if detection["status"] != "ok":
        return record
    width, height = detection["image"]["width"], detection["image"]["height"]
    people = [d for d in detection["detections"] if d["label_id"] == PERSON_LABEL_ID]
    use_attention = detection["attention"]["available"]
    attention_scores = (
        [attention_score(attention[d["index"]], params["attention_scaling"], params["attention_cutoff"])
         for d in people]
        if use_attention else None
    )
    distances = [distance_to_centre(d["box_xyxy"], width, height) for d in people]
    weights = (params["weights"]["attention"], params["weights"]["distance"])
    attention_ranks, distance_ranks, finals = rank_persons(attention_scores, distances, params["rule"], weights)
    limits = params["majors"]
    n_majors = major_count(len(people), limits["fraction"], limits["min_persons"], limits["max_persons"])
    majors = set(select_majors(finals, n_majors, params["rule"]))
    record["scoring"] = {
        "rule": params["rule"] if use_attention else "distance_only",
        "attention_available": use_attention,
        "note": None if use_attention else "no attention maps for these boxes: ranked by distance to the centre only",
        "n_persons": len(people),
        "n_majors": n_majors,
    }
    record["persons"] = [
        {
            "person": i,
            "detection": d["index"],
            "box_xyxy": d["box_xyxy"],
            "detection_score": d["score"],
            "attention_score": None if attention_scores is None else attention_scores[i],
            "distance": round(distances[i], 3),
            "attention_rank": None if attention_ranks is None else attention_ranks[i],
            "distance_rank": distance_ranks[i],
            "final_score": round(finals[i], 6),
            "role": "major" if i in majors else "minor",
        }
        for i, d in enumerate(people)
    ]
    return record


def run_persons_shard(items, params):
    """items: dicts with detect_json, detect_npz, json (output)."""
    counts = {"images": 0, "persons": 0, "majors": 0}
    for item in tracked(items):
        detection = read_json(item["detect_json"])
        with np.load(item["detect_npz"]) as arrays:
            attention = arrays["attention"]
        record = score_persons(detection, attention, params)
        write_json(item["json"], record)
        counts["images"] += 1
        counts["persons"] += len(record["persons"])
        counts["majors"] += sum(p["role"] == "major" for p in record["persons"])
    return counts
