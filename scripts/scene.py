"""Rule scene_<shards>: scene label, top-k and relevance map for a model job's shards of images."""

from pathlib import Path

import torch

from photoprivacy.devices import pick_device
from photoprivacy.joblog import log_to_file
from photoprivacy.model_jobs import ModelJob
from photoprivacy.models.store import model_summary, read_manifest
from photoprivacy.scene.classifier import load_scene_classifier
from photoprivacy.scene.relevance import scene_preprocessing
from photoprivacy.scene.stage import run_scene_shard

log = log_to_file(snakemake.log[0])
job = ModelJob(snakemake.input, snakemake.output, dict(snakemake.params.items()), __file__)
stage = snakemake.params.stage


def scene(items):
    torch.set_num_threads(snakemake.threads)
    model_dir = Path(snakemake.input.model).parent
    model, labels = load_scene_classifier(model_dir, pick_device(stage["device"]))  # checks the manifest
    model_info = model_summary(read_manifest(model_dir))
    mode = stage["preprocessing"]
    preprocessing = scene_preprocessing(model, mode)
    log.info("preprocessing '%s' (squash resize, no crop): %s", mode, preprocessing)
    return run_scene_shard(items, model, labels, stage, model_info, snakemake.params.max_image_pixels,
                           stage["batch_size"], preprocessing=preprocessing)


log.info("job done: %s", job.run_indexed(snakemake.params.files, snakemake.output.keys(), scene))
