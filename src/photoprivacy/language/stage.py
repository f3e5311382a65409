"""The language stage: action (w1) and scene (w2) words of each image's caption."""

from ..artifacts import provenance, read_json, write_json
from ..stages import STAGE_VERSIONS

SCHEMA_VERSION = 1


def language_record(caption, analysis, params):
    """The language record (workflow/schemas/language.schema.json) of one image."""
    record = {
        "schema_version": SCHEMA_VERSION,
        "image_id": caption["image_id"],
        "status": caption["status"],
        "reason": caption["reason"],
        "caption": caption.get("caption"),
        "method": params["method"],
        "w1": [],
        "w2": [],
        "evidence": [],
        "provenance": provenance("language", STAGE_VERSIONS["language"], params),
    }
    if caption["status"] == "ok":
        record.update(w1=analysis["w1"], w2=analysis["w2"], evidence=analysis["evidence"],
                      reason=analysis.get("reason"))
    return record


def run_language_shard(items, analyse, params):
    """``analyse(caption text) -> dict with w1, w2, evidence, reason``; items: caption_json, json."""
    counts = {"images": 0, "w1": 0, "w2": 0}
    for item in items:
        caption = read_json(item["caption_json"])
        analysis = analyse(caption["caption"] or "") if caption["status"] == "ok" else None
        record = language_record(caption, analysis, params)
        write_json(item["json"], record)
        counts["images"] += 1
        counts["w1"] += len(record["w1"])
        counts["w2"] += len(record["w2"])
    return counts
