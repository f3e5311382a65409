"""Rule fakes_<shard>: one generated face per face of a major person."""

import os
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # generation reads local files only

from photoprivacy.faces.generators import FACE_GENERATORS
from photoprivacy.faces.stage import run_fakes_shard
from photoprivacy.joblog import log_to_file
from photoprivacy.shard_index import shard_items, write_shard_index

log = log_to_file(snakemake.log[0])
items = shard_items(snakemake.input.images, snakemake.params.files)
stage = snakemake.params.stage


def load_generator():
    """Called at most once, when the shard has a face to replace."""
    import torch

    torch.set_num_threads(snakemake.threads)
    model_dir = Path(snakemake.input.model[0]).parent if snakemake.input.model else None  # diffusion only
    return FACE_GENERATORS[stage["generator"]](stage, model_dir)


counts = run_fakes_shard(items, load_generator, stage["seed"])
log.info("shard done (generator %s): %s", stage["generator"], counts)
write_shard_index(snakemake.output.index, items, snakemake.output.keys())
