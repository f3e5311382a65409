"""Run summary: the images a run could not use, with the reason, from the stage artifacts."""

import csv
import io

from .artifacts import read_json, write_bytes_atomic

REJECTED_COLUMNS = ("image_id", "source", "stage", "reason")


def rejected_rows(artifact_paths):
    rows = []
    for path in artifact_paths:
        record = read_json(path)
        if record["status"] == "rejected":
            rows.append((record["image_id"], record["source"], record["provenance"]["stage"], record["reason"]))
    return sorted(rows)


def write_rejected_tsv(artifact_paths, out_path):
    """Write the rejected images as TSV (header always present); return how many."""
    rows = rejected_rows(artifact_paths)
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter="\t", lineterminator="\n")
    writer.writerow(REJECTED_COLUMNS)
    writer.writerows(rows)
    write_bytes_atomic(out_path, buffer.getvalue().encode("utf-8"))
    return len(rows)
