"""Rule persons_<shard>: importance scores, ranks and major/minor for each person."""

from photoprivacy.joblog import log_to_file
from photoprivacy.persons.stage import run_persons_shard
from photoprivacy.shard_index import shard_items, write_shard_index

log = log_to_file(snakemake.log[0])
items = shard_items(snakemake.input.images, snakemake.params.files)
counts = run_persons_shard(items, snakemake.params.stage)
log.info("shard done: %s", counts)
write_shard_index(snakemake.output.index, items, snakemake.output.keys())
