"""The caption stage over one shard: caption JSON and per-word attention maps per image.

The next batches are decoded and preprocessed, and the last ones written, in
other threads while the captioner runs (``pipeline``).
"""

import functools
import time

import numpy as np

from ..artifacts import provenance, write_json, write_npz
from ..images import decode_batch
from ..pipeline import BackgroundWriter, prepared_batches
from ..records import image_record
from ..stages import STAGE_VERSIONS
from .word_attention import caption_pixels_with_word_maps, prepare

SCHEMA_VERSION = 1


def caption_record(image_id, prov, result=None, grid=None, reason=None):
    """The caption record (workflow/schemas/caption.schema.json) of one image."""
    record = image_record(SCHEMA_VERSION, image_id, "rejected" if reason else "ok", reason, prov, caption=None,
                          tokens=[], words=[], token_to_word=[], grid=None)
    if result is not None:
        record.update(caption=result.caption, tokens=list(result.tokens), words=list(result.words),
                      token_to_word=[int(i) for i in result.token_to_word], grid=[int(grid[0]), int(grid[1])])
        if not result.words:
            record["reason"] = "the caption has no words"
    return record


def run_caption_shard(items, captioner, params, batch_size, max_pixels):
    """items: dicts with id, path, json, npz (outputs)."""
    prov = provenance("caption", STAGE_VERSIONS["caption"], params, captioner.model_info)
    stats = {"images": 0, "rejected": 0, "model_seconds": 0.0}
    decode = functools.partial(decode_batch, max_pixels=max_pixels)
    prepare_pixels = functools.partial(prepare, captioner)
    with BackgroundWriter() as writer:
        for decoded, rejected, pixel_values in prepared_batches(items, batch_size, decode, prepare_pixels, stats):
            for item, reason in rejected:
                writer.submit(write_json, item["json"], caption_record(item["id"], prov, reason=reason))
                writer.submit(write_npz, item["npz"], maps=np.zeros((0, *captioner.grid), np.float32))
            if not decoded:
                continue
            began = time.perf_counter()
            results = caption_pixels_with_word_maps(captioner, pixel_values, params["max_new_tokens"],
                                                    params["num_beams"], params["layers"])
            stats["model_seconds"] += time.perf_counter() - began
            for (item, _), result in zip(decoded, results, strict=True):
                writer.submit(write_json, item["json"], caption_record(item["id"], prov, result, captioner.grid))
                writer.submit(write_npz, item["npz"],
                              maps=np.asarray(result.maps, np.float32).reshape(-1, *captioner.grid))
                stats["images"] += 1
    return stats
