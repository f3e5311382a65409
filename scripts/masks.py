"""Rule masks_<shard>: one mask per scenario 1 component, at full resolution."""

from photoprivacy.joblog import log_to_file
from photoprivacy.masks.stage import run_masks_shard

log = log_to_file(snakemake.log[0])
counts = run_masks_shard(snakemake.params.images, snakemake.params.stage)
log.info("shard done: %s", counts)
