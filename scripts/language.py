"""Rule language_<shards>: action (w1) and scene (w2) words of each caption."""

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # models are local files

from photoprivacy.joblog import log_to_file
from photoprivacy.language.methods import LANGUAGE_METHODS
from photoprivacy.language.stage import run_language_shard
from photoprivacy.model_jobs import ModelJob
from photoprivacy.models.store import model_folder

log = log_to_file(snakemake.log[0])
# One job per shard with spaCy; with BERT, one per model job's shards (rules/language.smk).
job = ModelJob(snakemake.input, snakemake.output, dict(snakemake.params.items()), __file__,
               shard_inputs=("images", "captions"))
stage = snakemake.params.stage


def analyse_captions(items):
    if snakemake.input.model:  # a model folder (BERT), on torch; spaCy's model is a package
        import torch

        torch.set_num_threads(snakemake.threads)
    return run_language_shard(items, LANGUAGE_METHODS[stage["method"]](stage, model_folder(snakemake.input.model)),
                              stage)


counts = job.run_indexed(snakemake.params.files, snakemake.output.keys(), analyse_captions)
log.info("job done (%s): %s", stage["method"], counts)
