"""A model job: one process runs a model stage over several shards, loading its model once.

A model stage (detect, caption, scene, language with BERT, fakes with a diffusion
model, evaluate) runs few jobs (``execution.model_jobs``), each over a run of
shards, because every job pays imports, device start-up and the model load
first. Its outputs stay per shard (a shard's index, or an evaluate shard's
tables) and batches never mix shards (``pipeline.batches``), so each shard's
files are what a job of that shard alone would write, and later stages still
work shard by shard.

Snakemake reruns a whole job when any of its inputs changed. So that an edited
photo costs the model time of its own shard only, a job keeps a reuse record per
shard, written after the shard's outputs: the digest of everything that
determines them (the job's params, the script, package versions, the shared
inputs such as the model's manifest, the shard's own inputs) and a copy of the
shard's outputs. A later run with the same digest puts the copy back, after
checking that the per-image files a shard index lists still have the digests it
records, and does no model work for the shard. The outputs come back
byte-identical, so Snakemake reruns nothing after them. Deleting a shard's
record (``<outputs folder>/<shard>.reuse.json``) makes the job compute it again.
"""

import base64
import hashlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path

from .artifacts import package_versions, write_bytes_atomic
from .progress import job_progress
from .shard_index import files_digest, index_rows, shard_items, shard_of_file, write_shard_index

RECORD_VERSION = 1
log = logging.getLogger(__name__)


@dataclass
class JobShard:
    """One shard of a model job: its name, and its own input and output files by key."""

    name: str
    inputs: dict
    outputs: dict


def as_list(value):
    """Snakemake gives a named input or output of one file as that file, of several as a list."""
    return [value] if isinstance(value, str) else list(value)


class ModelJob:
    """The shards of one model job, from its named inputs and outputs.

    ``inputs`` and ``outputs`` map names to a file or a list of files, as Snakemake
    gives them. Names in ``shard_inputs`` and ``shard_outputs`` hold one file per
    shard, in the same order (a name with no files is left out); every other input is
    shared by the shards (the model). ``params`` (JSON-serialisable) and ``code`` (the
    script's path) enter each shard's reuse digest.
    """

    def __init__(self, inputs, outputs, params, code, shard_inputs=("images",), shard_outputs=("index",)):
        inputs, outputs = dict(inputs.items()), dict(outputs.items())
        per_shard_out = {key: as_list(outputs[key]) for key in shard_outputs}
        names = [shard_of_file(path) for path in per_shard_out[shard_outputs[0]]]
        per_shard_in = {key: as_list(inputs[key]) for key in shard_inputs if as_list(inputs.get(key, []))}
        for key, paths in (*per_shard_in.items(), *per_shard_out.items()):
            if len(paths) != len(names):
                raise ValueError(f"model job: '{key}' has {len(paths)} files for {len(names)} shards")
        self.shards = [
            JobShard(name, {key: paths[i] for key, paths in per_shard_in.items()},
                     {key: paths[i] for key, paths in per_shard_out.items()})
            for i, name in enumerate(names)
        ]
        shared = sorted(path for key, value in inputs.items() if key not in per_shard_in for path in as_list(value))
        digest = hashlib.sha256()
        digest.update(json.dumps({"record": RECORD_VERSION, "params": params, "packages": package_versions()},
                                 sort_keys=True, default=str).encode())
        for path in [code, *shared]:
            digest.update(path.encode() + Path(path).read_bytes())
        self._job_digest = digest.hexdigest()

    def pending(self):
        """The shards to compute; every other shard's outputs are put back from its record."""
        pending = []
        for shard in self.shards:
            if self._restore(shard):
                log.info("shard %s: reused (inputs, params and files unchanged)", shard.name)
            else:
                pending.append(shard)
        return pending

    def run_indexed(self, files, index_columns, process):
        """A stage that writes per-image files and shard indexes: ``process(items)`` once over
        the items of every pending shard (``shard_index.shard_items`` of its ``images`` index
        and ``files``), then each pending shard's index (``index_columns``: the keys of
        ``files`` it lists) and reuse record. Returns what ``process`` returned, or None when
        every shard was reused (``process``, which loads the model, is then never called).
        The job's progress (``progress.job_progress``) counts the pending shards' images."""
        pending = self.pending()
        items = {shard.name: shard_items(shard.inputs["images"], files) for shard in pending}
        with job_progress(sum(len(listed) for listed in items.values())):
            result = process([item for listed in items.values() for item in listed]) if pending else None
        for shard in pending:
            write_shard_index(shard.outputs["index"], items[shard.name], index_columns)
        self.finish(pending)
        return result

    def finish(self, shards):
        """Record ``shards``, whose outputs are all written, for reuse."""
        for shard in shards:
            outputs = {key: base64.b64encode(Path(path).read_bytes()).decode() for key, path in shard.outputs.items()}
            record = {"key": self._key(shard), "outputs": outputs}
            write_bytes_atomic(record_path(shard), json.dumps(record).encode())

    def _key(self, shard):
        digest = hashlib.sha256(self._job_digest.encode())
        for key in sorted(shard.inputs):
            digest.update(key.encode() + Path(shard.inputs[key]).read_bytes())
        return digest.hexdigest()

    def _restore(self, shard):
        try:
            record = json.loads(record_path(shard).read_text())
        except (FileNotFoundError, ValueError):
            return False
        if record.get("key") != self._key(shard) or set(record["outputs"]) != set(shard.outputs):
            return False
        contents = {key: base64.b64decode(data) for key, data in record["outputs"].items()}
        if "index" in contents and not index_files_intact(contents["index"]):
            return False
        for key, data in contents.items():
            write_bytes_atomic(shard.outputs[key], data)
        return True


def record_path(shard):
    return Path(next(iter(shard.outputs.values()))).parent / f"{shard.name}.reuse.json"


def index_files_intact(index_bytes):
    """Whether every per-image file a shard index lists exists with the digest it records."""
    for row in index_rows(index_bytes.decode("utf-8").splitlines()):
        paths = [value for key, value in row.items() if key not in ("image_id", "sha256")]
        try:
            if files_digest(paths) != row["sha256"]:
                return False
        except FileNotFoundError:
            return False
    return True
