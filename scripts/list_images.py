"""Rule images_<shard>: the shard's photos, with their size and modification time."""

from photoprivacy.joblog import log_to_file
from photoprivacy.shard_index import write_image_index

log = log_to_file(snakemake.log[0])
write_image_index(snakemake.output.index, snakemake.params.images)
log.info("%d images listed", len(snakemake.params.images))
