"""Rule figure_sweep: privacy versus utility, one point per variant and scenario."""

from photoprivacy.figures.sweep import write_privacy_utility
from photoprivacy.joblog import log_to_file

log = log_to_file(snakemake.log[0])
write_privacy_utility(snakemake.input.variants, snakemake.output.png, snakemake.output.pdf)
log.info("sweep figure written")
