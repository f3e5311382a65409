"""Rule summarize_rejected: one TSV row per image the run could not use."""

from photoprivacy.joblog import log_to_file
from photoprivacy.shard_index import read_shard_index
from photoprivacy.summary import write_rejected_tsv

log = log_to_file(snakemake.log[0])
detections = [row["json"] for index in snakemake.input.detections for row in read_shard_index(index)]
videos = list(snakemake.input.videos)  # intake records: a video that cannot be decoded has no frames
count = write_rejected_tsv([*detections, *videos], snakemake.output.rejected)
log.info("%d of %d images and videos rejected", count, len(detections) + len(videos))
