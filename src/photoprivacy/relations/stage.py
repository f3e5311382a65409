"""The relations stage: per image, edges from each person to the objects tied to them."""

from ..artifacts import provenance, read_json, write_json
from ..detection.coco import PERSON_LABEL_ID
from ..language.words import word_texts
from ..progress import tracked
from ..records import after
from ..stages import STAGE_VERSIONS
from .graph import relation_edges

SCHEMA_VERSION = 1


def relations_record(detection, language, params):
    """The relations record (workflow/schemas/relations.schema.json) of one image."""
    record = after(detection, provenance("relations", STAGE_VERSIONS["relations"], params), SCHEMA_VERSION,
                   persons=[], objects=[], edges=[])
    if detection["status"] != "ok":
        return record
    things = [{"index": d["index"], "label": d["label"], "box_xyxy": d["box_xyxy"]} for d in detection["detections"]]
    persons = [t for t, d in zip(things, detection["detections"], strict=True) if d["label_id"] == PERSON_LABEL_ID]
    objects = [t for t, d in zip(things, detection["detections"], strict=True) if d["label_id"] != PERSON_LABEL_ID]
    action_words = word_texts(language.get("w1", [])) if language.get("status", "ok") == "ok" else []
    record["persons"] = [p["index"] for p in persons]
    record["objects"] = [o["index"] for o in objects]
    record["edges"] = relation_edges(persons, objects, action_words, containment=params["containment"])
    if not persons:
        record["reason"] = "no person detected"
    elif not objects:
        record["reason"] = "no object detected"
    return record


def run_relations_shard(items, params):
    """items: dicts with detect_json, language_json, json (output)."""
    counts = {"images": 0, "edges": 0}
    for item in tracked(items):
        record = relations_record(read_json(item["detect_json"]), read_json(item["language_json"]), params)
        write_json(item["json"], record)
        counts["images"] += 1
        counts["edges"] += len(record["edges"])
    return counts
