"""Rule detect_<shards>: detections and DETR attention maps for a model job's shards of images."""

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # inference reads local files only

import torch

from photoprivacy.detection.detectors import OBJECT_DETECTORS
from photoprivacy.detection.stage import run_detect_shard
from photoprivacy.joblog import log_to_file
from photoprivacy.model_jobs import ModelJob
from photoprivacy.models.store import model_folder

log = log_to_file(snakemake.log[0])
job = ModelJob(snakemake.input, snakemake.output, dict(snakemake.params.items()), __file__)
stage = snakemake.params.stage


def detect(items):
    torch.set_num_threads(snakemake.threads)
    detector = OBJECT_DETECTORS[stage["method"]](stage, model_folder(snakemake.input.model))
    log.info("detector %s (%s)", stage["method"], getattr(detector, "device", "no model"))
    return run_detect_shard(items, detector, stage, stage["batch_size"], snakemake.params.max_image_pixels)


log.info("job done: %s", job.run_indexed(snakemake.params.files, snakemake.output.keys(), detect))
