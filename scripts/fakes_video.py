"""Rule fakes_video_<video>: one generated face per major track with a face (seeded by the video
and the track's place among them), used in every frame of the track."""

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # generation reads local files only

from photoprivacy.artifacts import read_json
from photoprivacy.faces.generators import FACE_GENERATORS
from photoprivacy.faces.stage import run_fakes_shard
from photoprivacy.joblog import log_to_file
from photoprivacy.models.store import model_folder

log = log_to_file(snakemake.log[0])
stage = snakemake.params.stage


def load_generator():
    import torch

    torch.set_num_threads(snakemake.threads)
    return FACE_GENERATORS[stage["generator"]](stage, model_folder(snakemake.input.model))


video_id = read_json(snakemake.input.tracks)["image_id"]
item = {"id": video_id, "faces_json": snakemake.input.tracks, "npz": snakemake.output.npz}
counts = run_fakes_shard([item], load_generator, stage["seed"])
log.info("%s: %s", video_id, counts)
