"""A shard job's index: one TSV row per image with the per-image files the job wrote.

The workflow declares a shard job's index as its output, not the per-image
files themselves, so that planning does not grow with the number of photos.
The first index of a shard lists its photos (rule images_<shard>); every shard
job builds the list of what it processes from it.

An index is written last, after checking that every file it names exists, so
an index on disk means its shard's files were all made. It also fingerprints
them (a digest of each image's files; a photo's size and modification time),
because Snakemake skips a job whose newer input has the checksum it recorded:
an index that changes whenever its files do reruns what follows, and one that
is rewritten unchanged reruns nothing.
"""

import csv
import hashlib
import io
import os
from pathlib import Path

from .artifacts import write_bytes_atomic


def write_shard_index(path, items, files):
    """Write the index of ``items`` (dicts with ``id``): one column per key of ``files`` (per-image
    files, which must exist; ``index``, the job's own output, is skipped), then ``sha256``, the
    digest of the image's files in that order."""
    files = [key for key in files if key != "index"]
    missing = [item[key] for item in items for key in files if not Path(item[key]).is_file()]
    if missing:
        raise FileNotFoundError(f"shard job did not write {len(missing)} file(s), first: {missing[0]}")
    rows = [[item["id"], *(item[key] for key in files), files_digest(item[key] for key in files)] for item in items]
    write_tsv(path, ["image_id", *files, "sha256"], rows)


def write_image_index(path, images):
    """Write the index of a shard's photos (dicts with id, path, relpath), with each photo's
    size in bytes and modification time in nanoseconds."""
    rows = []
    for image in images:
        status = os.stat(image["path"])
        rows.append([image["id"], image["path"], image["relpath"], status.st_size, status.st_mtime_ns])
    write_tsv(path, ["image_id", "path", "relpath", "bytes", "mtime_ns"], rows)


def files_digest(paths):
    digest = hashlib.sha256()
    for path in paths:
        with open(path, "rb") as handle:
            digest.update(hashlib.file_digest(handle, "sha256").digest())
    return digest.hexdigest()


def write_tsv(path, header, rows):
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter="\t", lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    write_bytes_atomic(path, buffer.getvalue().encode("utf-8"))


def read_shard_index(path):
    """The rows of an index, as dicts keyed by its header."""
    with open(path, newline="", encoding="utf-8") as handle:
        return index_rows(handle)


def index_rows(lines):
    """The rows of an index's lines, as dicts keyed by its header."""
    return list(csv.DictReader(lines, delimiter="\t"))


# What follows the shard's name in the name of a shard's file (a video's shard names hold dots).
SHARD_FILE_SUFFIXES = (".faces.parquet", ".tsv", ".csv")


def shard_of_file(path):
    """``results/shards/detect/0007.tsv`` -> ``0007``: a shard's files are named after it."""
    name = Path(path).name
    for suffix in SHARD_FILE_SUFFIXES:
        if name.endswith(suffix):
            return name.removesuffix(suffix)
    raise ValueError(f"'{path}' is not a shard's file (names end in {', '.join(SHARD_FILE_SUFFIXES)})")


def shard_items(images_index, files):
    """What a shard job processes, from its shard's image index: per image a dict with id,
    path, relpath, source, shard (the index's name, which batches never cross: ``pipeline.batches``)
    and, per key of ``files`` (a pattern with {image_id}), that image's path."""
    shard = shard_of_file(images_index)
    return [
        {"id": row["image_id"], "path": row["path"], "relpath": row["relpath"], "source": row["relpath"],
         "shard": shard,
         **{key: pattern.format(image_id=row["image_id"]) for key, pattern in files.items()}}
        for row in read_shard_index(images_index)
    ]
