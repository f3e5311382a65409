"""Rule build_offline_model: a random model of the real classes, for runs without network."""

from pathlib import Path

from photoprivacy.joblog import log_to_file
from photoprivacy.models.families import build_random

log = log_to_file(snakemake.log[0])
model_dir = Path(snakemake.output.manifest).parent
manifest = build_random(snakemake.wildcards.family, model_dir, snakemake.wildcards.size, snakemake.params.seed)
log.info("built %s into %s: %s", manifest["id"], model_dir, sorted(manifest["files"]))
