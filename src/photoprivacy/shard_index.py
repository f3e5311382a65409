"""A shard job's index: one TSV row per image with the per-image files the job wrote.

The workflow declares a shard job's index as its output, not the per-image
files themselves, so that planning does not grow with the number of photos.
The index is written last, after checking that every file it names exists, so
an index on disk means its shard's files were all made.
"""

import csv
import io
from pathlib import Path

from .artifacts import write_bytes_atomic


def write_shard_index(path, items, keys):
    """Write the index of ``items`` (dicts with ``id`` and a path under each of ``keys``;
    the key ``index``, the job's own output, is skipped)."""
    keys = [key for key in keys if key != "index"]
    missing = [item[key] for item in items for key in keys if not Path(item[key]).is_file()]
    if missing:
        raise FileNotFoundError(f"shard job did not write {len(missing)} file(s), first: {missing[0]}")
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter="\t", lineterminator="\n")
    writer.writerow(["image_id", *keys])
    writer.writerows([item["id"], *(item[key] for key in keys)] for item in items)
    write_bytes_atomic(path, buffer.getvalue().encode("utf-8"))


def read_shard_index(path):
    """The rows of an index, as dicts keyed by its header."""
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle, delimiter="\t"))
