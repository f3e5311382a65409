"""Rule scene_<shard>: scene label, top-k and relevance map for one shard of images."""

from pathlib import Path

import torch

from photoprivacy.devices import pick_device
from photoprivacy.joblog import log_to_file
from photoprivacy.models.store import model_summary, read_manifest
from photoprivacy.scene.classifier import load_scene_classifier
from photoprivacy.scene.relevance import scene_preprocessing
from photoprivacy.scene.stage import run_scene_shard
from photoprivacy.shard_index import shard_items, write_shard_index

log = log_to_file(snakemake.log[0])
items = shard_items(snakemake.input.images, snakemake.params.files)
torch.set_num_threads(snakemake.threads)
stage = snakemake.params.stage
model_dir = Path(snakemake.input.model).parent
model, labels = load_scene_classifier(model_dir, pick_device(stage["device"]))  # checks the manifest
model_info = model_summary(read_manifest(model_dir))
mode = stage["preprocessing"]
preprocessing = scene_preprocessing(model, mode)
log.info("preprocessing '%s' (squash resize, no crop): %s", mode, preprocessing)
counts = run_scene_shard(items, model, labels, stage, model_info, snakemake.params.max_image_pixels,
                         stage["batch_size"], preprocessing=preprocessing)
log.info("shard done: %s", counts)
write_shard_index(snakemake.output.index, items, snakemake.output.keys())
