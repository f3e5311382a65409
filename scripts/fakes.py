"""Rule fakes_<shard>: one generated face per face of a major person."""

import os
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # generation reads local files only

from photoprivacy.faces.generators import make_face_generator
from photoprivacy.faces.stage import run_fakes_shard
from photoprivacy.joblog import log_to_file
from photoprivacy.shard_index import shard_items, write_shard_index

log = log_to_file(snakemake.log[0])
items = shard_items(snakemake.input.images, snakemake.params.files)
stage = snakemake.params.stage


def load_generator():
    """Called at most once, when the shard has a face to replace."""
    import torch

    from photoprivacy.devices import pick_device

    torch.set_num_threads(snakemake.threads)
    return make_face_generator(
        stage["generator"],
        model_dir=Path(snakemake.input.model[0]).parent if snakemake.input.model else None,
        steps=stage.get("steps", 50),
        donor_folder=stage.get("donor_folder"),
        device=pick_device(snakemake.config["execution"]["device"]),
    )


counts = run_fakes_shard(items, load_generator, stage["seed"], snakemake.config["execution"]["batch_size"])
log.info("shard done (generator %s): %s", stage["generator"], counts)
write_shard_index(snakemake.output.index, items, snakemake.output.keys())
