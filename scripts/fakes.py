"""Rule fakes_<shards>: one generated face per face of a major person."""

import collections
import functools
import itertools
import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # generation reads local files only

from photoprivacy.faces.generators import FACE_GENERATORS
from photoprivacy.faces.stage import run_fakes_shard
from photoprivacy.joblog import log_to_file
from photoprivacy.model_jobs import ModelJob
from photoprivacy.models.store import model_folder

log = log_to_file(snakemake.log[0])
# One job per shard with donors or no generator; with the diffusion model, one per model job's shards.
job = ModelJob(snakemake.input, snakemake.output, dict(snakemake.params.items()), __file__,
               shard_inputs=("images", "faces"))
stage = snakemake.params.stage


@functools.cache
def load_generator():
    """Called at most once, when a shard has a face to replace."""
    import torch

    torch.set_num_threads(snakemake.threads)
    return FACE_GENERATORS[stage["generator"]](stage, model_folder(snakemake.input.model))


def generate(items):
    # Shard by shard: faces share UNet calls only within a shard, so its faces do not depend on the others.
    counts = collections.Counter()
    for _, shard_items in itertools.groupby(items, key=lambda item: item["shard"]):
        counts.update(run_fakes_shard(list(shard_items), load_generator, stage["seed"]))
    return dict(counts)


counts = job.run_indexed(snakemake.params.files, snakemake.output.keys(), generate)
log.info("job done (generator %s): %s", stage["generator"], counts)
