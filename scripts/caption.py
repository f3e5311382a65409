"""Rule caption_<shards>: captions and per-word attention maps for a model job's shards of images."""

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # inference reads local files only

import torch

from photoprivacy.caption.models import load_captioner
from photoprivacy.caption.stage import run_caption_shard
from photoprivacy.joblog import log_to_file
from photoprivacy.model_jobs import ModelJob
from photoprivacy.models.store import model_folder

log = log_to_file(snakemake.log[0])
job = ModelJob(snakemake.input, snakemake.output, dict(snakemake.params.items()), __file__)
stage = snakemake.params.stage


def caption(items):
    torch.set_num_threads(snakemake.threads)
    captioner = load_captioner(model_folder(snakemake.input.model), stage["model"], stage["device"])
    log.info("captioner %s on %s", stage["model"], captioner.device)
    return run_caption_shard(items, captioner, stage, stage["batch_size"], snakemake.params.max_image_pixels)


log.info("job done: %s", job.run_indexed(snakemake.params.files, snakemake.output.keys(), caption))
