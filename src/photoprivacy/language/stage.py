"""The language stage: action (w1) and scene (w2) words of each image's caption.

Captions are read ahead and records written behind in other threads while
the analysis (BERT, or spaCy) runs (``pipeline``).
"""

from ..artifacts import provenance, read_json, write_json
from ..pipeline import BackgroundWriter, batches, prefetched
from ..progress import progress_of
from ..records import after
from ..stages import STAGE_VERSIONS

SCHEMA_VERSION = 1
READ_AHEAD = 8  # captions read per chunk by the prefetching threads


def language_record(caption, analysis, params):
    """The language record (workflow/schemas/language.schema.json) of one image."""
    record = after(caption, provenance("language", STAGE_VERSIONS["language"], params), SCHEMA_VERSION,
                   caption=caption.get("caption"), method=params["method"], w1=[], w2=[], evidence=[])
    if caption["status"] == "ok":
        record.update(w1=analysis["w1"], w2=analysis["w2"], evidence=analysis["evidence"],
                      reason=analysis.get("reason"))
    return record


def run_language_shard(items, analyse, params):
    """``analyse(caption text) -> dict with w1, w2, evidence, reason``; items: caption_json, json."""
    counts = {"images": 0, "w1": 0, "w2": 0}
    with progress_of(items) as progress, BackgroundWriter() as writer:
        for chunk, captions in prefetched(batches(items, READ_AHEAD), read_captions):
            for item, caption in zip(chunk, captions, strict=True):
                analysis = analyse(caption["caption"] or "") if caption["status"] == "ok" else None
                record = language_record(caption, analysis, params)
                writer.submit(write_json, item["json"], record)
                counts["images"] += 1
                counts["w1"] += len(record["w1"])
                counts["w2"] += len(record["w2"])
            progress.tick(len(chunk))
    return counts


def read_captions(items):
    return [read_json(item["caption_json"]) for item in items]
