"""Rule render_scenario1_<shard>: protected photos and decision logs for scenario 1."""

from photoprivacy.joblog import log_to_file
from photoprivacy.render.scenario1 import run_render_scenario1_shard
from photoprivacy.shard_index import shard_items, write_shard_index

log = log_to_file(snakemake.log[0])
items = shard_items(snakemake.input.images, snakemake.params.files)
stage = snakemake.params.stage
counts = run_render_scenario1_shard(items, stage, stage["max_image_pixels"])
log.info("shard done: %s", counts)
write_shard_index(snakemake.output.index, items, snakemake.output.keys())
