"""The faces and fakes stages over one shard.

faces: the faces inside each person's box (results/faces/{id}.json): the major
persons' are replaced; the others (minor persons', and those only a pass over
the whole photo finds) size the obfuscation.
fakes: one generated face per found face (results/fakes/{id}.npz), kept
apart from rendering so that changing a blend or mosaic setting reuses them.
The faces of a shard can be generated in batches across images; they are
written in another thread while the next ones sample (``pipeline``).
"""

import numpy as np

from ..artifacts import provenance, read_json, write_json, write_npz
from ..errors import ImageRejected
from ..images import load_rgb
from ..pipeline import BackgroundWriter
from ..progress import progress_of, tracked
from ..records import after
from ..stages import STAGE_VERSIONS
from .detectors import faces_of_persons

SCHEMA_VERSION = 2  # 2: other_faces, source


def faces_record(persons, detector, params, image=None):
    """The faces record (workflow/schemas/faces.schema.json) of one image."""
    prov = provenance("faces", STAGE_VERSIONS["faces"], params, detector.model_info)
    record = after(persons, prov, SCHEMA_VERSION, detector=detector.name, faces=[], other_faces=[], notes=[])
    if image is not None:
        record["faces"], record["other_faces"], record["notes"] = faces_of_persons(image, persons["persons"], detector)
    return record


def run_faces_shard(items, detector, params, max_pixels):
    """items: dicts with path, persons_json, json (output)."""
    counts = {"images": 0, "faces": 0}
    for item in tracked(items):
        persons = read_json(item["persons_json"])
        image = None
        if persons["status"] == "ok" and persons["persons"]:
            try:
                image = load_rgb(item["path"], max_pixels)
            except ImageRejected as rejected:  # the photo changed since detection
                persons = dict(persons, status="rejected", reason=rejected.reason)
        record = faces_record(persons, detector, params, image)
        write_json(item["json"], record)
        counts["images"] += 1
        counts["faces"] += len(record["faces"]) + len(record["other_faces"])
    return counts


def run_fakes_shard(items, make_generator, seed):
    """items: dicts with id, faces_json, npz (output). One generated face per found face.

    ``make_generator`` is called once, and only when the shard has a face:
    most shards of crowd-free photos never pay for loading the model.
    The generator's ``batch_size`` None generates each image's faces in one
    call; an int, up to that many faces per call across images (see
    ``DiffusionFaceGenerator.generate_many``: faster on a GPU, and equal up
    to rounding, not bytes).
    """
    counts = {"images": 0, "faces": 0}
    found = [len(read_json(item["faces_json"])["faces"]) for item in items]
    with progress_of(items) as progress, BackgroundWriter() as writer:

        def write(item, generated):
            writer.submit(write_npz, item["npz"], faces=generated, face=np.arange(len(generated), dtype=np.int64))
            counts["images"] += 1
            counts["faces"] += len(generated)
            progress.tick()

        for item, n_faces in zip(items, found, strict=True):
            if not n_faces:
                write(item, np.zeros((0, 1, 1, 3), np.uint8))
        with_faces = [(item, n_faces) for item, n_faces in zip(items, found, strict=True) if n_faces]
        if with_faces:
            generator = make_generator()
            requests = [(item["id"], n_faces) for item, n_faces in with_faces]
            generated_faces = generator.generate_many(requests, seed, generator.batch_size)
            for (item, _), generated in zip(with_faces, generated_faces, strict=True):
                write(item, generated)
    return counts
