"""Rule detect_<shard>: detections and DETR attention maps for one shard of images."""

import os
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # inference reads local files only

import torch

from photoprivacy.detection.annotations import AnnotationDetector
from photoprivacy.detection.detr import DetrDetector
from photoprivacy.detection.stage import run_detect_shard
from photoprivacy.joblog import log_to_file
from photoprivacy.shard_index import shard_items, write_shard_index

log = log_to_file(snakemake.log[0])
items = shard_items(snakemake.input.images, snakemake.params.files)
torch.set_num_threads(snakemake.threads)
stage = snakemake.params.stage
execution = snakemake.config["execution"]

if stage["method"] == "annotations":
    detector = AnnotationDetector(stage["annotations"])
else:
    detector = DetrDetector(
        Path(snakemake.input.model).parent,
        threshold=stage["threshold"],
        short_side=stage["short_side"],
        max_side=stage["max_side"],
        device=execution["device"],
        half=stage["half_precision"],
    )
    log.info("DETR on %s%s", detector.device, " (float16)" if detector.half else "")

stats = run_detect_shard(
    items,
    detector,
    params=stage,
    batch_size=execution["batch_size"],
    max_pixels=snakemake.params.max_image_pixels,
)
log.info("shard done: %s", stats)
write_shard_index(snakemake.output.index, items, snakemake.output.keys())
