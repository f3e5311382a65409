"""Rule video_metrics: one row per video, variant and scenario (results/metrics/videos.csv)."""

import pandas as pd

from photoprivacy.artifacts import read_json, write_bytes_atomic
from photoprivacy.joblog import log_to_file

log = log_to_file(snakemake.log[0])
rows = [read_json(path) for path in snakemake.input.summaries]
write_bytes_atomic(snakemake.output.table, pd.DataFrame(rows).to_csv(index=False).encode())
log.info("%d video rows", len(rows))
