"""Rule render_video_<scenario>_<video>: a video's protected frames (PNGs) and their decision logs."""

import numpy as np

from photoprivacy.artifacts import read_json
from photoprivacy.joblog import log_to_file
from photoprivacy.video.render import KeyframeMasks, render_video

log = log_to_file(snakemake.log[0])
scenario, stage = snakemake.params.scenario, snakemake.params.stage
tracks = read_json(snakemake.input.tracks)
frame_paths = [f"{snakemake.input.frames}/{frame}.png" for frame in tracks["frames"]]
fakes = keyframe_masks = None
if scenario == "scenario2":
    with np.load(snakemake.input.fakes) as arrays:
        fakes = arrays["faces"]
else:
    keyframe_masks = KeyframeMasks(tracks, snakemake.params.masks, stage["scenario1_every"], stage["object_predicates"])
counts = render_video(scenario, tracks, frame_paths, stage, snakemake.output.frames, snakemake.output.decisions,
                      fakes, keyframe_masks)
log.info("%s %s: %s", tracks["image_id"], scenario, counts)
