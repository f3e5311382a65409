"""Rule evaluate_video_<scenario>_<video>: per frame, faces of tracked persons left uncovered or found
again (flicker leaks), identity on every n-th frame; the video's summary row."""

import pandas as pd
import torch

from photoprivacy.artifacts import read_json, write_bytes_atomic, write_json
from photoprivacy.evaluate.identity import FaceRecogniser
from photoprivacy.evaluate.stage import Evaluators, protected_masks
from photoprivacy.faces.detectors import CenterFaceDetector
from photoprivacy.images import load_rgb
from photoprivacy.joblog import log_to_file
from photoprivacy.progress import tracked
from photoprivacy.video.evaluate import FRAME_COLUMNS, measure_frame, video_summary
from photoprivacy.video.media import probe
from photoprivacy.video.render import KeyframeMasks, read_decisions

log = log_to_file(snakemake.log[0])
torch.set_num_threads(snakemake.threads)
stage = snakemake.params.stage
scenario, settings = stage["scenario"], stage["evaluate"]
tracks = read_json(snakemake.input.tracks)
logs = read_decisions(snakemake.input.decisions)
evaluators = Evaluators(faces=CenterFaceDetector(settings["face_threshold"], settings["face_max_side"]),
                        identity=FaceRecogniser())
keyframe_masks = None
if scenario == "scenario1":
    keyframe_masks = KeyframeMasks(tracks, snakemake.params.masks, stage["scenario1_every"], stage["object_predicates"])
rows = []
for index, (frame, decisions) in enumerate(tracked(list(zip(tracks["frames"], logs, strict=True)))):
    original = load_rgb(f"{snakemake.input.originals}/{frame}.png", stage["max_image_pixels"])
    protected = load_rgb(f"{snakemake.input.frames}/{frame}.png", stage["max_image_pixels"])
    masks = keyframe_masks.masks_of(index, original.shape[:2])[0] if keyframe_masks else None
    areas = protected_masks(scenario, original.shape, decisions, masks, stage.get("render"))
    row = measure_frame(original, protected, decisions, areas, stage, evaluators,
                        index % stage["identity_every"] == 0)
    rows.append({"video_id": tracks["image_id"], "variant": stage["variant"], "scenario": scenario, "frame": index,
                 "image_id": frame, **row})
frame_table = pd.DataFrame(rows, columns=list(FRAME_COLUMNS))
write_bytes_atomic(snakemake.output.frames, frame_table.to_csv(index=False).encode())
info = probe(snakemake.input.video)
encoded = {"frames": info.frames, "fps": info.fps,
           "audio_s": info.audio[0]["duration_s"] if info.audio else None}
summary = video_summary(tracks["image_id"], stage, tracks, logs, rows, encoded)
write_json(snakemake.output.summary, summary)
log.info("%s %s: %s", tracks["image_id"], scenario, summary)
