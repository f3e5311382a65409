"""Rule metrics: per-image rows of every variant and scenario, per-face rows with their rank-1
re-identification, and per-variant aggregates."""

import pandas as pd

from photoprivacy.evaluate.reidentify import with_reidentification
from photoprivacy.evaluate.tables import ROW_COLUMNS, aggregate, read_faces, write_faces, write_table
from photoprivacy.joblog import log_to_file

log = log_to_file(snakemake.log[0])
frames = [pd.read_csv(path) for path in snakemake.input.tables]
rows = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=list(ROW_COLUMNS))
rows = rows.sort_values(["variant", "scenario", "image_id"], kind="stable").reset_index(drop=True)
faces = read_faces(snakemake.input.faces).sort_values(["variant", "scenario", "image_id", "face"], kind="stable")
faces = with_reidentification(faces.reset_index(drop=True))
out = snakemake.output
write_table(rows, out.images_parquet, out.images_csv)
write_faces(faces, out.faces_parquet, out.faces_csv)
variants = aggregate(rows, faces)
write_table(variants, out.variants_parquet, out.variants_csv)
log.info("%d image rows, %d face rows (%d checked), %d variant rows", len(rows), len(faces),
         int(faces["checked"].sum()), len(variants))
