"""Rule figure_panel: one image's artifacts and protected photos in one figure."""

from photoprivacy.figures.panels import write_image_panel
from photoprivacy.joblog import log_to_file

log = log_to_file(snakemake.log[0])
paths = {"image": snakemake.input.image, **snakemake.params.files}
title = f"{snakemake.wildcards.image_id} (variant {snakemake.params.variant})"
write_image_panel(paths, snakemake.output.png, snakemake.output.pdf, title, snakemake.params.max_image_pixels)
log.info("panel written")
