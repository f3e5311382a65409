"""What rendering writes: the protected PNG and its decision log (decisions.schema.json)."""

import io

import numpy as np
from PIL import Image

from ..artifacts import provenance
from ..stages import STAGE_VERSIONS

SCHEMA_VERSION = 1

# A rejected image has no pixels to protect; a 1x1 black PNG keeps the DAG
# static and its decision log (status: rejected) and results/summary/rejected.tsv say why.
PLACEHOLDER = np.zeros((1, 1, 3), np.uint8)


def decision_log(scenario, image_id, status, reason, params, regions, warnings):
    stage = f"render_{scenario}"
    return {
        "schema_version": SCHEMA_VERSION,
        "image_id": image_id,
        "scenario": scenario,
        "variant": params["variant"],
        "status": status,
        "reason": reason,
        "seed": params["seed"],
        "regions": regions,
        "warnings": warnings,
        "provenance": provenance(stage, STAGE_VERSIONS[stage], params),
    }


def png_bytes(image):
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    return buffer.getvalue()
