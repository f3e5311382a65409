"""Logging for a workflow job: everything, warnings and tracebacks included, to its log file."""

import logging
import sys


def log_to_file(path):
    handle = open(path, "w", encoding="utf-8")  # noqa: SIM115 - lives as long as the job
    sys.stderr = handle
    logging.basicConfig(
        stream=handle, level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s", force=True
    )
    logging.captureWarnings(True)
    return logging.getLogger("photoprivacy")
