"""Rule fetch_model: download pinned pretrained weights into resources/ with a manifest."""

import sys
from pathlib import Path

from photoprivacy.errors import ModelNotAvailable
from photoprivacy.joblog import log_to_file
from photoprivacy.models.families import fetch_pretrained

log = log_to_file(snakemake.log[0])
spec = snakemake.params.spec
model_dir = Path(snakemake.output.manifest).parent
try:
    manifest = fetch_pretrained(
        snakemake.wildcards.family, spec["id"], spec["revision"], model_dir, spec["sha256"]
    )
except ModelNotAvailable as error:  # the advice is the whole story (profiles show failed logs)
    log.error("%s", error)
    sys.exit(1)
log.info("fetched %s@%s into %s: %s", spec["id"], spec["revision"], model_dir, sorted(manifest["files"]))
