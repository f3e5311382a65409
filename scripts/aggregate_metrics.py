"""Rule metrics: per-image rows of every variant and scenario, and per-variant aggregates."""

import pandas as pd

from photoprivacy.evaluate.tables import ROW_COLUMNS, aggregate, write_table
from photoprivacy.joblog import log_to_file

log = log_to_file(snakemake.log[0])
frames = [pd.read_csv(path) for path in snakemake.input.tables]
rows = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=list(ROW_COLUMNS))
rows = rows.sort_values(["variant", "scenario", "image_id"], kind="stable").reset_index(drop=True)
out = snakemake.output
write_table(rows, out.images_parquet, out.images_csv)
variants = aggregate(rows)
write_table(variants, out.variants_parquet, out.variants_csv)
log.info("%d image rows, %d variant rows", len(rows), len(variants))
