"""The scene stage: scene label, top-k probabilities and the relevance map of each image.

Relevance needs a backward pass; a batch of images shares one forward and one
backward pass (``relevance_grids``). The next batches are decoded and
preprocessed, and the last ones written, in other threads (``pipeline``).
"""

import functools

import numpy as np
import torch

from ..artifacts import provenance, write_json, write_npz
from ..devices import pinned_for
from ..images import decode_batch
from ..pipeline import BackgroundWriter, prepared_batches
from ..records import image_record
from ..stages import STAGE_VERSIONS
from .classifier import top_predictions
from .methods import RELEVANCE_METHODS
from .relevance import preprocess_scene

SCHEMA_VERSION = 1


def scene_record(image_id, prov, reason=None, label=None, index=None, top_k=(), note=None):
    return image_record(
        SCHEMA_VERSION, image_id, "rejected" if reason else "ok", reason or note, prov, label=label,
        class_index=index,
        top_k=[{"index": int(i), "label": name, "probability": round(float(p), 6)} for i, name, p in top_k],
    )


def scene_inputs(images, preprocessing, device):
    """The (batch, 3, H, W) classifier input of a batch's photos, pinned for a model on CUDA."""
    return pinned_for(torch.cat([preprocess_scene(image, preprocessing) for image in images]), device)


def run_scene_shard(items, model, labels, params, model_info, max_pixels, batch_size, *, preprocessing):
    """items: id, path, json, npz. Relevance (``params["relevance"]``, a key of
    ``methods.RELEVANCE_METHODS``) is computed for each image's top class.

    ``preprocessing`` (a ``ScenePreprocessing``, from ``scene_preprocessing``) turns
    every photo into the model's input; it is required so that no caller falls
    back silently to a size or normalisation the model was not trained with.

    ``batch_size`` (execution.batch_size) images share a forward and backward pass: their maps equal
    one-image passes up to float rounding (about 1e-6 relative), so a
    workflow that batches should list the batch size among the stage's
    parameters, as detection does.
    """
    relevance_maps = RELEVANCE_METHODS[params["relevance"]]
    prov = provenance("scene", STAGE_VERSIONS["scene"], params, model_info)
    counts = {"images": 0, "rejected": 0}
    decode = functools.partial(decode_batch, max_pixels=max_pixels)
    prepare = functools.partial(scene_inputs, preprocessing=preprocessing, device=next(model.parameters()).device)
    with BackgroundWriter() as writer:
        for decoded, rejected, pixel_values in prepared_batches(items, batch_size, decode, prepare, counts):
            for item, reason in rejected:
                writer.submit(write_json, item["json"], scene_record(item["id"], prov, reason=reason))
                writer.submit(write_npz, item["npz"], relevance=np.zeros((0, 0), np.float32))
            if not decoded:
                continue
            # The relevance pass's forward also gives the logits: no second forward for the label.
            grids, indices, logits = relevance_maps(model, pixel_values)
            for (item, _), grid, index, image_logits in zip(decoded, grids, indices, logits, strict=True):
                _, top = top_predictions(image_logits, labels, params["top_k"])
                note = None if np.isfinite(grid).all() else "relevance map has non-finite values"
                writer.submit(write_json, item["json"], scene_record(
                    item["id"], prov, label=labels[index], index=index, top_k=top, note=note))
                writer.submit(write_npz, item["npz"], relevance=grid.astype(np.float32))
                counts["images"] += 1
    return counts
