"""Rule faces_<shard>: faces inside the boxes of major persons."""

from photoprivacy.faces.detectors import FACE_DETECTORS
from photoprivacy.faces.stage import run_faces_shard
from photoprivacy.joblog import log_to_file
from photoprivacy.shard_index import shard_items, write_shard_index

log = log_to_file(snakemake.log[0])
items = shard_items(snakemake.input.images, snakemake.params.files)
stage = snakemake.params.stage
detector = FACE_DETECTORS[stage["detector"]](stage)
counts = run_faces_shard(items, detector, stage, snakemake.params.max_image_pixels)
log.info("shard done: %s", counts)
write_shard_index(snakemake.output.index, items, snakemake.output.keys())
