"""Rule language_<shard>: action (w1) and scene (w2) words of each caption."""

import os
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # models are local files

from photoprivacy.joblog import log_to_file
from photoprivacy.language.methods import LANGUAGE_METHODS
from photoprivacy.language.stage import run_language_shard
from photoprivacy.shard_index import shard_items, write_shard_index

log = log_to_file(snakemake.log[0])
items = shard_items(snakemake.input.images, snakemake.params.files)
stage = snakemake.params.stage
model_dir = None  # spaCy's model is a package
if snakemake.input.model:  # a model folder: BERT, on torch
    import torch

    torch.set_num_threads(snakemake.threads)
    model_dir = Path(snakemake.input.model[0]).parent
analyse = LANGUAGE_METHODS[stage["method"]](stage, model_dir)
counts = run_language_shard(items, analyse, stage)
log.info("shard done (%s): %s", stage["method"], counts)
write_shard_index(snakemake.output.index, items, snakemake.output.keys())
