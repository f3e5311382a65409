"""Rule frames_<video>: the frames the run reads, as PNGs named by their image ids."""

from photoprivacy.artifacts import read_json
from photoprivacy.joblog import log_to_file
from photoprivacy.video.intake import extract_frames, frame_ids

log = log_to_file(snakemake.log[0])
record = read_json(snakemake.input.record)
step = snakemake.params.step
ids = frame_ids(record["image_id"], record, step)
count = extract_frames(snakemake.input.video, snakemake.output.frames, ids, step, snakemake.params.max_image_pixels)
log.info("%d frames of %s written (every %d-th of %d)", count, snakemake.input.video, step, record["video"]["frames"])
