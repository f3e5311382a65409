"""Rule summarize_rejected: one TSV row per image the run could not use."""

from photoprivacy.joblog import log_to_file
from photoprivacy.summary import write_rejected_tsv

log = log_to_file(snakemake.log[0])
count = write_rejected_tsv(snakemake.input.detections, snakemake.output.rejected)
log.info("%d of %d images rejected", count, len(snakemake.input.detections))
