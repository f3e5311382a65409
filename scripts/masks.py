"""Rule masks_<shard>: one mask per scenario 1 component, at full resolution."""

from photoprivacy.joblog import log_to_file
from photoprivacy.masks.stage import run_masks_shard
from photoprivacy.shard_index import write_shard_index

log = log_to_file(snakemake.log[0])
counts = run_masks_shard(snakemake.params.images, snakemake.params.stage)
log.info("shard done: %s", counts)
write_shard_index(snakemake.output.index, snakemake.params.images, snakemake.output.keys())
