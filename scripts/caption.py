"""Rule caption_<shard>: captions and per-word attention maps for one shard of images."""

import os
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # inference reads local files only

import torch

from photoprivacy.caption.models import load_captioner
from photoprivacy.caption.stage import run_caption_shard
from photoprivacy.joblog import log_to_file
from photoprivacy.shard_index import shard_items, write_shard_index

log = log_to_file(snakemake.log[0])
items = shard_items(snakemake.input.images, snakemake.params.files)
torch.set_num_threads(snakemake.threads)
stage = snakemake.params.stage
captioner = load_captioner(Path(snakemake.input.model).parent, stage["model"], stage["device"])
log.info("captioner %s on %s", stage["model"], captioner.device)
stats = run_caption_shard(items, captioner, stage, stage["batch_size"], snakemake.params.max_image_pixels)
log.info("shard done: %s", stats)
write_shard_index(snakemake.output.index, items, snakemake.output.keys())
