"""The evaluate stage over one shard of one variant and scenario: a metric row per image.

Privacy compares the protected photo with the original inside the
obfuscated regions (scenario 1: the cleaned mask union; scenario 2: the
minor persons' boxes, head regions and faces pixelated for want of a
generator): faces found by CenterFace, persons found by the detector, and
whether the action (w1) and scene (w2) words survive in a new caption.
Replaced faces are protected too, but a generated face there is wanted, so
CenterFace does not count them; the identity measure (dlib's face
recogniser) checks every original face in any protected region, replaced
ones included. Utility is measured outside every protected region. The
next batches' photos are decoded in other threads while the models run
(``pipeline``), and each photo's measures (CenterFace, dlib, SSIM and the
other metrics, all on the CPU) run in a pool of the job's threads while the
models work on the next batch.

Besides the image row, each original face in a protected region gets a face
row (tables.FACE_COLUMNS): its box, whether it was obfuscated or replaced,
its blocks across (from the decision log's ``strength_zones``), and for the
faces dlib checks, the original, protected and flat-erased descriptors that
the aggregate's rank-1 re-identification (``reidentify``) compares.
"""

import collections
import contextlib
import dataclasses
import functools
import logging
import math
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from ..artifacts import read_json
from ..errors import ImageRejected
from ..geometry import boxes_mask
from ..images import load_rgb
from ..masks.stage import read_masks
from ..pipeline import batches, prefetched
from ..progress import progress_of
from ..render.masking import clean, union
from ..render.scenario1 import at_work_size
from . import metrics
from .identity import identity_check
from .tables import DESCRIPTOR_COLUMNS, ROW_COLUMNS

log = logging.getLogger(__name__)


@dataclasses.dataclass
class Evaluators:
    """What a job loads once: CenterFace, dlib's recogniser, and optionally the detector and the captioner.

    ``faces`` and ``identity`` run in the measuring threads, each thread on its own copy where they have
    ``thread_copy`` (dlib's objects must not be shared); without it, one instance serves every thread."""

    faces: object  # callable rgb -> [(box_xyxy, score)]
    identity: object = None  # identity.FaceRecogniser, or None: identity not checked
    persons: object = None  # DetrDetector, or None: persons not re-detected
    caption: object = None  # callable list of rgb -> list of captions, or None: no recaptioning
    # Copies made for the measuring threads of one shard, kept for the next shard's threads.
    spare_copies: list = dataclasses.field(default_factory=list, init=False, repr=False, compare=False)

    def thread_copy(self):
        """The evaluators for one measuring thread: its own face detector and recogniser."""
        return dataclasses.replace(self, faces=_thread_copy(self.faces), identity=_thread_copy(self.identity))


def _thread_copy(model):
    return model.thread_copy() if hasattr(model, "thread_copy") else model


@contextlib.contextmanager
def per_thread(evaluators):
    """A function that gives the calling thread its own copy of ``evaluators``: a spare one from an
    earlier shard, or a new one. On leaving, once the threads are done, the copies are kept as spares:
    a job evaluates its shards one after another, and dlib's models take about 0.5 s to load."""
    local, lock, taken = threading.local(), threading.Lock(), []

    def evaluators_of_this_thread():
        if not hasattr(local, "evaluators"):
            with lock:
                spare = evaluators.spare_copies.pop() if evaluators.spare_copies else None
            local.evaluators = evaluators.thread_copy() if spare is None else spare
            with lock:
                taken.append(local.evaluators)
        return local.evaluators

    try:
        yield evaluators_of_this_thread
    finally:
        evaluators.spare_copies.extend(taken)


def protected_masks(scenario, shape, decisions, masks=None, params=None):
    """(obfuscated, protected) boolean masks of the pixels the renderer worked on: scenario 1's
    cleaned union of the enabled components of ``masks`` (component -> mask, as rendered), scenario
    2's changed regions of the decision log."""
    if scenario == "scenario1":
        _, masks = at_work_size(None, masks, params.get("resize"))
        cleaned = clean(union(masks, params["components"]), params["clean_kernel"])
        return cleaned, cleaned
    regions = [r for r in decisions["regions"] if r["region"] is not None and r["method"] is not None]
    obfuscated = [r["region"] for r in regions if not r["method"].startswith("replace:")]
    replaced = [r["region"] for r in regions if r["method"].startswith("replace:")]
    obfuscated_mask = boxes_mask(obfuscated, *shape[:2])
    return obfuscated_mask, obfuscated_mask | boxes_mask(replaced, *shape[:2])


def person_boxes(detections, scale):
    """Boxes of the original's person detections, in the protected photo's pixels."""
    sx, sy = scale
    return [[b[0] * sx, b[1] * sy, b[2] * sx, b[3] * sy]
            for b in (d["box_xyxy"] for d in detections["detections"] if d["label"] == "person")]


def empty_row(item, params, status, reason):
    row = dict.fromkeys(ROW_COLUMNS)
    row.update(variant=params["variant"], scenario=params["scenario"], image_id=item["id"], status=status,
               reason=reason)
    return row


def face_rows(item, params, boxes, obfuscated, zones, identity):
    """One row (tables.FACE_COLUMNS) per face box in the protected area, in order; ``identity`` is
    identity_check's result on those boxes, or None when identity is not checked."""
    checked = identity["checked"] if identity else [False] * len(boxes)
    checked_rank = np.cumsum(checked) - 1  # a checked face's place in identity's per-checked-face lists
    rows = []
    for index, box in enumerate(boxes):
        x0, y0, x1, y1 = (float(v) for v in box)
        protection = "obfuscated" if metrics.centre_in_mask(box, obfuscated) else "replaced"
        rows.append({
            "variant": params["variant"], "scenario": params["scenario"], "image_id": item["id"], "face": index,
            "x0": x0, "y0": y0, "x1": x1, "y1": y1, "width": x1 - x0, "protection": protection,
            "blocks_across": metrics.blocks_across(box, zones) if protection == "obfuscated" else math.nan,
            **(identity_fields(identity, checked_rank[index]) if checked[index] else unchecked_fields()),
        })
    return rows


def identity_fields(identity, rank):
    """A face row's identity columns from identity_check's result for its ``rank``-th checked face."""
    return {"checked": True, "identity_distance": identity["distances"][rank],
            "erased_distance": identity["erased_distances"][rank],
            **{f"{kind}_descriptor": vectors[rank].tolist() for kind, vectors in identity["descriptors"].items()}}


def unchecked_fields():
    return {"checked": False, "identity_distance": math.nan, "erased_distance": math.nan,
            **{column: [] for column in DESCRIPTOR_COLUMNS}}


def measure(item, original, protected, decisions, params, evaluators, detected=None, caption=None):
    """The metric row of one ok image and its face rows; ``detected`` and ``caption`` come from batched
    model calls."""
    settings = params["evaluate"]
    obfuscated, protected_area = protected_masks(params["scenario"], original.shape, decisions,
                                                 read_masks(item["masks_npz"]) if "masks_npz" in item else None,
                                                 params.get("render"))
    scale = (protected.shape[1] / original.shape[1], protected.shape[0] / original.shape[0])
    _, protected_area = metrics.match_size(original, protected_area, protected.shape)
    original, obfuscated = metrics.match_size(original, obfuscated, protected.shape)
    row = empty_row(item, params, "ok", None)
    threshold = settings["face_threshold"]
    # A face found again at its place is a leak; other faces found in an obfuscated area are counted apart.
    faces_original = evaluators.faces(original)
    faces_before = metrics.faces_in_mask(faces_original, obfuscated, threshold)
    faces_after = metrics.faces_in_mask(evaluators.faces(protected), obfuscated, threshold)
    row["faces_original"], row["faces_protected"] = len(faces_before), len(faces_after)
    row["faces_redetected"] = metrics.redetected(faces_before, faces_after, settings["iou"])
    # Every original face in any protected region, replaced faces included, at its own box.
    faces = metrics.faces_in_mask(faces_original, protected_area, threshold)
    identity = None
    if evaluators.identity is not None:
        identity = identity_check(evaluators.identity, original, protected, faces)
        row["faces_checked"], row["identity_kept"] = identity["faces_checked"], identity["identity_kept"]
        row["identity_min_distance"] = identity["min_distance"]
    boxes = person_boxes(read_json(item["detect_json"]), scale)
    covered = [boxes[i] for i in metrics.covered_boxes(boxes, obfuscated, settings["person_coverage"])]
    row["persons_protected"] = len(covered)
    if detected is not None:
        found = [d["box_xyxy"] for d in detected.detections if d["label"] == "person"]
        row["persons_redetected"] = metrics.redetected(covered, found, settings["iou"])
    language = read_json(item["language_json"])
    row["caption_original"] = read_json(item["caption_json"])["caption"]
    row["w1_words"], row["w2_words"] = len(language["w1"]), len(language["w2"])
    if caption is not None:
        row["caption_protected"] = caption
        row["w1_kept"] = len(metrics.words_kept(caption, language["w1"]))
        row["w2_kept"] = len(metrics.words_kept(caption, language["w2"]))
        row["caption_similarity"] = metrics.caption_similarity(row["caption_original"], caption)
    row.update(
        ssim_outside=metrics.ssim_outside(original, protected, protected_area),
        psnr_outside=metrics.psnr_outside(original, protected, protected_area),
        altered_fraction=metrics.altered_fraction(original, protected),
        protected_fraction=metrics.protected_fraction(protected_area),
    )
    return row, face_rows(item, params, faces, obfuscated, decisions.get("strength_zones"), identity)


def load_pair(item, max_pixels):
    """((original, protected pixels, decision log), None), or (None, why the image cannot be evaluated)."""
    decisions = read_json(item["decisions"])
    if decisions["status"] != "ok":
        return None, decisions["reason"]
    try:
        return (load_rgb(item["path"], max_pixels), load_rgb(item["png"], max_pixels), decisions), None
    except ImageRejected as rejected:  # the photo changed since it was rendered
        return None, rejected.reason


def run_evaluate_shard(items, params, evaluators, batch_size, max_pixels, workers=None):
    """The image rows of evaluate_shard."""
    return evaluate_shard(items, params, evaluators, batch_size, max_pixels, workers)[0]


def evaluate_shard(items, params, evaluators, batch_size, max_pixels, workers=None):
    """items: dicts with id, path, detect_json, caption_json, language_json, png, decisions
    (and masks_npz for scenario 1). Returns (image rows (tables.ROW_COLUMNS), face rows (FACE_COLUMNS)).

    The models run on the calling thread, a batch at a time. Each image's ``measure`` runs in a pool of
    ``workers`` threads (default: the job's thread count, ``torch.get_num_threads()``, which the scripts
    set to the rule's threads), each on its own evaluators (``per_thread``), while the models work on
    the next batch. The rows are those of a serial loop, in its order, for any ``workers``: a batch's
    rejected images first, then its measured ones.
    """
    if workers is None:
        import torch

        workers = torch.get_num_threads()
    if workers < 1:
        raise ValueError(f"evaluate needs workers >= 1, got {workers}")
    rows, faces = [], []
    # Per batch, in order: its rejected rows and its images' measures, running or done.
    measuring = collections.deque()
    load = functools.partial(load_pairs, max_pixels=max_pixels)
    with (
        per_thread(evaluators) as evaluators_of_this_thread,
        ThreadPoolExecutor(max_workers=workers, thread_name_prefix="measure") as pool,
        progress_of(items) as progress,
    ):
        try:
            for chunk, pairs in prefetched(batches(items, batch_size), load, workers=workers):
                batch = [(item, pair) for item, (pair, _) in zip(chunk, pairs, strict=True) if pair is not None]
                rejected = [
                    empty_row(item, params, "rejected", reason)
                    for item, (pair, reason) in zip(chunk, pairs, strict=True)
                    if pair is None
                ]
                measures = []
                if batch:
                    protected = [pair[1] for _, pair in batch]
                    detected = evaluators.persons.detect(protected) if evaluators.persons else [None] * len(batch)
                    captions = evaluators.caption(protected) if evaluators.caption else [None] * len(batch)
                    measures = [
                        pool.submit(measure_in_worker, evaluators_of_this_thread, item, *pair, params, found, caption)
                        for (item, pair), found, caption in zip(batch, detected, captions, strict=True)
                    ]
                measuring.append((rejected, measures))
                while len(measuring) > 1:  # the batch before, measured while the models worked on this one
                    collect(measuring.popleft(), rows, faces, progress)
            while measuring:
                collect(measuring.popleft(), rows, faces, progress)
        finally:  # after an error, the measures not yet started are dropped
            pool.shutdown(cancel_futures=True)
    log.info(
        "evaluated %d images (%d rejected) with %d measuring threads, %d faces in protected regions",
        len(rows),
        sum(row["status"] != "ok" for row in rows),
        workers,
        len(faces),
    )
    return rows, faces


def measure_in_worker(evaluators_of_this_thread, item, original, protected, decisions, params, detected, caption):
    return measure(item, original, protected, decisions, params, evaluators_of_this_thread(), detected, caption)


def collect(batch, rows, faces, progress):
    """Append a batch's rows and face rows, waiting for its measures; a measure's error is raised here.
    The batch's images then count as done for ``progress``."""
    rejected, measures = batch
    rows.extend(rejected)
    for measured in measures:
        row, face_records = measured.result()
        rows.append(row)
        faces.extend(face_records)
    progress.tick(len(rejected) + len(measures))


def load_pairs(items, max_pixels):
    return [load_pair(item, max_pixels) for item in items]
