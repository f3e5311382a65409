"""The scene stage: scene label, top-k probabilities and the relevance map of each image."""

import logging

import numpy as np

from ..artifacts import provenance, write_json, write_npz
from ..errors import ImageRejected
from ..images import load_rgb
from ..stages import STAGE_VERSIONS
from .classifier import top_predictions
from .relevance import preprocess_scene, relevance_grid

SCHEMA_VERSION = 1
log = logging.getLogger(__name__)


def scene_record(image_id, prov, reason=None, label=None, index=None, top_k=(), note=None):
    return {
        "schema_version": SCHEMA_VERSION,
        "image_id": image_id,
        "status": "rejected" if reason else "ok",
        "reason": reason or note,
        "label": label,
        "class_index": index,
        "top_k": [{"index": int(i), "label": name, "probability": round(float(p), 6)} for i, name, p in top_k],
        "provenance": prov,
    }


def run_scene_shard(items, model, labels, params, model_info, max_pixels):
    """items: id, path, json, npz. Relevance is computed for the top class (one image at a
    time: it needs a backward pass per image)."""
    prov = provenance("scene", STAGE_VERSIONS["scene"], params, model_info)
    counts = {"images": 0, "rejected": 0}
    for item in items:
        try:
            image = load_rgb(item["path"], max_pixels)
        except ImageRejected as rejected:
            log.warning("rejected %s (%s): %s", item["id"], item["path"], rejected.reason)
            write_json(item["json"], scene_record(item["id"], prov, reason=rejected.reason))
            write_npz(item["npz"], relevance=np.zeros((0, 0), np.float32))
            counts["rejected"] += 1
            continue
        # relevance_grid's forward pass also gives the logits: no second forward for the label.
        grid, index, logits = relevance_grid(model, preprocess_scene(image))
        _, top = top_predictions(logits, labels, params["top_k"])
        note = None if np.isfinite(grid).all() else "relevance map has non-finite values"
        write_json(item["json"], scene_record(item["id"], prov, label=labels[index], index=index, top_k=top,
                                              note=note))
        write_npz(item["npz"], relevance=grid.astype(np.float32))
        counts["images"] += 1
    return counts
