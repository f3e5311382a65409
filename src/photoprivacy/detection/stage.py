"""The detection stage over one shard: decode, detect in batches, write artifacts.

Every image of the shard gets its JSON and .npz. An image that cannot be
decoded gets a JSON with ``status: rejected`` and its reason (and an empty
.npz), so the rest of the run goes on and the summary can list it. The next
batches are decoded (and, for a detector with ``prepare``, turned into model
inputs) and the last ones written in other threads while the detector runs
(``pipeline``).
"""

import functools
import time

import numpy as np

from ..artifacts import provenance, write_json, write_npz
from ..images import decode_batch
from ..pipeline import BackgroundWriter, prepared_batches
from ..records import image_record
from ..stages import STAGE_VERSIONS

SCHEMA_VERSION = 1


def detection_record(image_id, source, detector_name, has_attention, prov, image=None, result=None, reason=None):
    """The per-image detection JSON (workflow/schemas/detect.schema.json)."""
    return image_record(
        SCHEMA_VERSION, image_id, "rejected" if reason else "ok", reason, prov, source=str(source),
        image=None if image is None else {"width": int(image.shape[1]), "height": int(image.shape[0])},
        detector=detector_name,
        attention={
            "available": bool(has_attention) and result is not None,
            "grid": [int(result.grid[0]), int(result.grid[1])] if result is not None and has_attention else None,
        },
        detections=[] if result is None else [dict(d, index=i) for i, d in enumerate(result.detections)],
    )


def attention_arrays(result=None):
    """The per-image detection .npz (workflow/schemas/detect.npz.schema.yaml)."""
    if result is None:
        return {"query": np.zeros(0, np.int64), "attention": np.zeros((0, 0, 0), np.float32),
                "h": np.int64(0), "w": np.int64(0)}
    queries = [-1 if d["query"] is None else d["query"] for d in result.detections]
    return {"query": np.asarray(queries, np.int64).reshape(-1), "attention": result.attention,
            "h": np.int64(result.attention.shape[1]), "w": np.int64(result.attention.shape[2])}


def detector_steps(detector):
    """``(prepare, run)``: ``prepare(images)`` runs in the prefetch workers, ``run(prepared, relpaths)``
    on this thread. A detector without ``prepare`` (annotations) gets its decoded images in ``detect``."""
    if hasattr(detector, "prepare"):
        return detector.prepare, detector.run
    return (lambda images: images), detector.detect


def run_detect_shard(items, detector, params, batch_size, max_pixels):
    """Run ``detector`` over ``items`` (dicts: id, path, source, relpath, json, npz).

    Returns a dict of counts and seconds for the job log.
    """
    prov = provenance("detect", STAGE_VERSIONS["detect"], params, detector.model_info)
    stats = {"images": 0, "rejected": 0, "detections": 0, "model_seconds": 0.0}
    decode = functools.partial(decode_batch, max_pixels=max_pixels)
    prepare, run = detector_steps(detector)
    with BackgroundWriter() as writer:
        for decoded, rejected, prepared in prepared_batches(items, batch_size, decode, prepare, stats):
            for item, reason in rejected:
                writer.submit(write_json, item["json"], detection_record(
                    item["id"], item["source"], detector.name, detector.has_attention, prov, reason=reason))
                writer.submit(write_npz, item["npz"], **attention_arrays())
            if not decoded:
                continue
            began = time.perf_counter()
            results = run(prepared, [item["relpath"] for item, _ in decoded])
            stats["model_seconds"] += time.perf_counter() - began
            for (item, image), result in zip(decoded, results, strict=True):
                writer.submit(write_json, item["json"], detection_record(
                    item["id"], item["source"], detector.name, detector.has_attention, prov, image, result))
                writer.submit(write_npz, item["npz"], **attention_arrays(result))
                stats["images"] += 1
                stats["detections"] += len(result.detections)
    return stats
