"""The one writer for artifacts: atomic files, provenance, and schema checks.

Every file is written to a temporary name in the target folder and renamed
into place, so an interrupted job never leaves a file that looks complete.
"""

import contextlib
import functools
import importlib.metadata
import io
import json
import os
import tempfile
from pathlib import Path

import jsonschema
import numpy as np
import yaml

from . import __version__

_UMASK = os.umask(0)
os.umask(_UMASK)
# What open() gives a new file: 0666 less the umask (0644 under the usual umask 022).
FILE_MODE = 0o666 & ~_UMASK

PROVENANCE_PACKAGES = ("photoprivacy", "torch", "transformers", "timm", "numpy", "pillow")


@contextlib.contextmanager
def atomic_path(path):
    """Yield a temporary path in ``path``'s folder to write; renamed to ``path`` when the block ends
    without an error, deleted when it raises. Writers that stream (ffmpeg, a log of lines) use it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(handle)
    try:
        yield Path(tmp)
        os.chmod(tmp, FILE_MODE)  # mkstemp creates 0600; give the usual permissions
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_bytes_atomic(path, data):
    with atomic_path(path) as tmp, open(tmp, "wb") as out:
        out.write(data)


def give_usual_read_access(path):
    """Add the read permissions a new file would have (FILE_MODE) where ``path`` lacks them:
    writers that go through a temp file (safetensors in transformers, hub downloads) leave 0600."""
    mode = os.stat(path).st_mode & 0o7777
    if mode & FILE_MODE & 0o444 != FILE_MODE & 0o444:
        os.chmod(path, mode | (FILE_MODE & 0o444))


def write_json(path, payload):
    text = json.dumps(payload, indent=2, sort_keys=False, ensure_ascii=False) + "\n"
    write_bytes_atomic(path, text.encode("utf-8"))


def write_npz(path, **arrays):
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    write_bytes_atomic(path, buffer.getvalue())


def read_json(path):
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def package_versions():
    return dict(_installed_versions())


@functools.cache
def _installed_versions():
    """Looked up once per process: each lookup scans the installed distributions (about 7 ms
    for all of them), and stages that build provenance per image paid it per image."""
    versions = []
    for name in PROVENANCE_PACKAGES:
        try:
            versions.append((name, importlib.metadata.version(name)))
        except importlib.metadata.PackageNotFoundError:
            versions.append((name, __version__ if name == "photoprivacy" else None))
    return tuple(versions)


def provenance(stage, stage_version, params, model=None):
    """What produced an artifact. No timestamps: equal inputs give equal bytes."""
    return {
        "stage": stage,
        "stage_version": stage_version,
        "model": model,
        "packages": package_versions(),
        "params": params,
    }


def load_schema(path):
    with open(path, encoding="utf-8") as handle:
        return yaml.safe_load(handle) if str(path).endswith((".yaml", ".yml")) else json.load(handle)


def schema_validator(schema_dir, name):
    """A validator for the JSON schema ``name`` in ``schema_dir``, its $refs to the folder's
    other schemas (e.g. provenance.schema.json) resolved."""
    from referencing import Registry, Resource

    schema_dir = Path(schema_dir)
    registry = Registry().with_resources(
        (path.name, Resource.from_contents(load_schema(path))) for path in schema_dir.glob("*.schema.json")
    )
    return jsonschema.Draft202012Validator(load_schema(schema_dir / name), registry=registry)


def validate_npz(path, schema):
    """Check an .npz against an array schema (see workflow/schemas/*.npz.schema.yaml).

    The schema names each array with its dtype and shape; a shape entry is an
    int (fixed), or a name shared between arrays (all uses must agree), and an
    array of shape [] is a scalar. Raises ``ValueError`` naming the array.
    """
    sizes = {}
    with np.load(path, allow_pickle=False) as data:
        missing = set(schema["arrays"]) - set(data.files)
        if missing:
            raise ValueError(f"{path}: missing array(s) {sorted(missing)}")
        extra = set(data.files) - set(schema["arrays"])
        if extra:
            raise ValueError(f"{path}: unexpected array(s) {sorted(extra)}")
        for name, spec in schema["arrays"].items():
            array = data[name]
            if array.dtype != np.dtype(spec["dtype"]):
                raise ValueError(f"{path}: array '{name}' has dtype {array.dtype}, expected {spec['dtype']}")
            if array.ndim != len(spec["shape"]):
                raise ValueError(f"{path}: array '{name}' has shape {array.shape}, expected {spec['shape']}")
            for axis, (dim, expected) in enumerate(zip(array.shape, spec["shape"], strict=True)):
                if isinstance(expected, int):
                    if dim != expected:
                        raise ValueError(f"{path}: array '{name}' axis {axis} is {dim}, expected {expected}")
                elif sizes.setdefault(expected, dim) != dim:
                    raise ValueError(
                        f"{path}: array '{name}' axis {axis} ({expected}) is {dim}, "
                        f"but {expected} is {sizes[expected]} elsewhere"
                    )
        for name, dims in schema.get("scalars_are_dims", {}).items():
            if int(data[name]) != sizes.get(dims, int(data[name])):
                raise ValueError(f"{path}: scalar '{name}' = {int(data[name])} but {dims} is {sizes[dims]}")
    return sizes
