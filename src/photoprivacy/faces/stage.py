"""The faces and fakes stages over one shard.

faces: the faces inside each major person's box (results/faces/{id}.json).
fakes: one generated face per found face (results/fakes/{id}.npz), kept
apart from rendering so that changing a blend or mosaic setting reuses them.
"""

import numpy as np

from ..artifacts import provenance, read_json, write_json, write_npz
from ..errors import ImageRejected
from ..images import load_rgb
from ..stages import STAGE_VERSIONS
from .detectors import faces_of_persons

SCHEMA_VERSION = 1


def faces_record(persons, detector, params, image=None):
    """The faces record (workflow/schemas/faces.schema.json) of one image."""
    record = {
        "schema_version": SCHEMA_VERSION,
        "image_id": persons["image_id"],
        "status": persons["status"],
        "reason": persons["reason"],
        "detector": detector.name,
        "faces": [],
        "notes": [],
        "provenance": provenance("faces", STAGE_VERSIONS["faces"], params, detector.model_info),
    }
    if image is not None:
        record["faces"], record["notes"] = faces_of_persons(image, persons["persons"], detector)
    return record


def run_faces_shard(items, detector, params, max_pixels):
    """items: dicts with path, persons_json, json (output)."""
    counts = {"images": 0, "faces": 0}
    for item in items:
        persons = read_json(item["persons_json"])
        image = None
        if persons["status"] == "ok" and any(p["role"] == "major" for p in persons["persons"]):
            try:
                image = load_rgb(item["path"], max_pixels)
            except ImageRejected as rejected:  # the photo changed since detection
                persons = dict(persons, status="rejected", reason=rejected.reason)
        record = faces_record(persons, detector, params, image)
        write_json(item["json"], record)
        counts["images"] += 1
        counts["faces"] += len(record["faces"])
    return counts


def run_fakes_shard(items, make_generator, seed):
    """items: dicts with id, faces_json, npz (output). One generated face per found face.

    ``make_generator`` is called once, and only when the shard has a face:
    most shards of crowd-free photos never pay for loading the model.
    """
    counts = {"images": 0, "faces": 0}
    generator = None
    for item in items:
        faces = read_json(item["faces_json"])
        if faces["faces"] and generator is None:
            generator = make_generator()
        if faces["faces"]:
            generated = generator.generate(item["id"], len(faces["faces"]), seed)
        else:
            generated = np.zeros((0, 1, 1, 3), np.uint8)
        write_npz(item["npz"], faces=generated, face=np.arange(len(generated), dtype=np.int64))
        counts["images"] += 1
        counts["faces"] += len(generated)
    return counts
