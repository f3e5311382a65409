"""Rule relations_<shard>: person-to-object edges with their evidence."""

from photoprivacy.joblog import log_to_file
from photoprivacy.relations.stage import run_relations_shard
from photoprivacy.shard_index import write_shard_index

log = log_to_file(snakemake.log[0])
counts = run_relations_shard(snakemake.params.images, snakemake.params.stage)
log.info("shard done: %s", counts)
write_shard_index(snakemake.output.index, snakemake.params.images, snakemake.output.keys())
