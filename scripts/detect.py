"""Rule detect_<shard>: detections and DETR attention maps for one shard of images."""

import os
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # inference reads local files only

import torch

from photoprivacy.detection.detectors import OBJECT_DETECTORS
from photoprivacy.detection.stage import run_detect_shard
from photoprivacy.joblog import log_to_file
from photoprivacy.shard_index import shard_items, write_shard_index

log = log_to_file(snakemake.log[0])
items = shard_items(snakemake.input.images, snakemake.params.files)
torch.set_num_threads(snakemake.threads)
stage = snakemake.params.stage
# The model input is a model's manifest, or the COCO file of method annotations (in params too).
detector = OBJECT_DETECTORS[stage["method"]](stage, Path(snakemake.input.model).parent)
log.info("detector %s (%s)", stage["method"], getattr(detector, "device", "no model"))
stats = run_detect_shard(items, detector, stage, stage["batch_size"], snakemake.params.max_image_pixels)
log.info("shard done: %s", stats)
write_shard_index(snakemake.output.index, items, snakemake.output.keys())
