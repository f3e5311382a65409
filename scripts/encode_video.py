"""Rule encode_video_<scenario>_<video>: the protected frames as an MP4 at the rate they were read,
with the source's audio (video.keep_audio) and none of its metadata."""

import json

from photoprivacy.artifacts import read_json
from photoprivacy.images import load_rgb
from photoprivacy.joblog import log_to_file
from photoprivacy.video.intake import frame_ids, output_rate
from photoprivacy.video.media import encode

log = log_to_file(snakemake.log[0])
stage, step = snakemake.params.stage, snakemake.params.step
record = read_json(snakemake.input.record)
ids = frame_ids(record["image_id"], record, step)
frames = (load_rgb(f"{snakemake.input.frames}/{frame}.png", float("inf")) for frame in ids)
audio = snakemake.input.video if stage["keep_audio"] else None
written = encode(frames, snakemake.output.video, output_rate(record, step), audio_from=audio, codec=stage["codec"],
                 crf=stage["crf"])
log.info("encoded: %s", json.dumps(written))
