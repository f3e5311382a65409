"""Rule evaluate_<scenario>[_<variant>]_<shards>: privacy and utility metrics of protected photos."""

import functools
import os
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # inference reads local files only

import pandas as pd
import torch

from photoprivacy.artifacts import write_bytes_atomic
from photoprivacy.caption.models import load_captioner
from photoprivacy.caption.word_attention import caption_texts
from photoprivacy.detection.detectors import OBJECT_DETECTORS
from photoprivacy.evaluate.identity import FaceRecogniser
from photoprivacy.evaluate.stage import Evaluators, evaluate_shard
from photoprivacy.evaluate.tables import ROW_COLUMNS, face_frame, write_faces
from photoprivacy.faces.detectors import CenterFaceDetector
from photoprivacy.joblog import log_to_file
from photoprivacy.model_jobs import ModelJob
from photoprivacy.progress import job_progress
from photoprivacy.shard_index import shard_items

log = log_to_file(snakemake.log[0])
job = ModelJob(snakemake.input, snakemake.output, dict(snakemake.params.items()), __file__,
               shard_inputs=("images", "detections", "captions", "language", "protected", "masks"),
               shard_outputs=("table", "faces"))
stage = snakemake.params.stage
settings = stage["evaluate"]


def load_evaluators():
    torch.set_num_threads(snakemake.threads)
    # The independent models of the privacy metrics: CenterFace and dlib's face recognition.
    evaluators = Evaluators(faces=CenterFaceDetector(settings["face_threshold"], settings["face_max_side"]),
                            identity=FaceRecogniser())
    if "detector" in stage:  # evaluate.redetect_persons, with the detect stage's detector and settings
        evaluators.persons = OBJECT_DETECTORS[stage["detector"]["method"]](stage["detector"],
                                                                         Path(snakemake.input.detector).parent)
    if "captioner" in stage:
        captioner_settings = stage["captioner"]
        captioner = load_captioner(Path(snakemake.input.captioner).parent, captioner_settings["model"],
                                   captioner_settings["device"])
        evaluators.caption = functools.partial(caption_texts, captioner,
                                               max_new_tokens=captioner_settings["max_new_tokens"],
                                               num_beams=captioner_settings["num_beams"])
    log.info("evaluating %s of variant %s: persons re-detected: %s, recaptioned: %s", stage["scenario"],
             stage["variant"], evaluators.persons is not None, evaluators.caption is not None)
    return evaluators


pending = job.pending()
items_of = {shard.name: shard_items(shard.inputs["images"], snakemake.params.files) for shard in pending}
with job_progress(sum(len(items) for items in items_of.values())):
    evaluators = load_evaluators() if pending else None
    for shard in pending:
        items = items_of[shard.name]
        rows, faces = evaluate_shard(items, stage, evaluators, stage["batch_size"], stage["max_image_pixels"])
        write_bytes_atomic(shard.outputs["table"],
                           pd.DataFrame(rows, columns=list(ROW_COLUMNS)).to_csv(index=False).encode())
        write_faces(face_frame(faces), shard.outputs["faces"])
        log.info("shard %s: %d images, %d faces", shard.name, len(rows), len(faces))
job.finish(pending)
