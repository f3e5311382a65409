"""Local model folders and their manifests.

A model folder under resources/ holds the files ``from_pretrained`` reads plus
``manifest.json``: where the files came from (hub id and pinned revision, or
the offline builder) and the SHA-256 of each. Inference verifies the manifest
and loads local files only; it never reaches the network.
"""

import hashlib
from pathlib import Path

from ..artifacts import read_json, write_json
from ..errors import ModelNotAvailable

MANIFEST = "manifest.json"
# What from_pretrained needs: configs, safetensors weights, tokenizer text files.
HUB_PATTERNS = ("*.json", "*.safetensors", "*.txt")


def sha256_of(path, chunk=1 << 20):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(chunk), b""):
            digest.update(block)
    return digest.hexdigest()


def write_manifest(model_dir, source, model_id, revision, extra=None):
    """Record every model file in ``model_dir`` with its size and SHA-256."""
    model_dir = Path(model_dir)
    files = {
        path.relative_to(model_dir).as_posix(): {"bytes": path.stat().st_size, "sha256": sha256_of(path)}
        for path in sorted(model_dir.rglob("*"))
        if path.is_file() and path.name != MANIFEST and not _is_cache(path, model_dir)
    }
    manifest = {"source": source, "id": model_id, "revision": revision, "files": files, **(extra or {})}
    write_json(model_dir / MANIFEST, manifest)
    return manifest


def verify_manifest(model_dir):
    """Check every file against the manifest; return the manifest.

    Every job loading a model calls this, so a file is hashed again only when
    its size differs or it was modified after the manifest was written; an
    untouched folder costs a stat per file, not a read of its gigabytes.
    """
    model_dir = Path(model_dir)
    manifest_path = model_dir / MANIFEST
    if not manifest_path.is_file():
        raise ModelNotAvailable(f"{manifest_path} is missing: run the workflow's fetch_model rule first")
    manifest = read_json(manifest_path)
    written = manifest_path.stat().st_mtime_ns
    for name, entry in manifest["files"].items():
        path = model_dir / name
        if not path.is_file():
            raise ModelNotAvailable(f"model file {path} listed in {manifest_path} is missing")
        status = path.stat()
        changed = status.st_size != entry["bytes"] or status.st_mtime_ns > written
        if changed and sha256_of(path) != entry["sha256"]:
            raise ModelNotAvailable(f"model file {path} does not match the SHA-256 in {manifest_path}")
    return manifest


def model_summary(manifest):
    """The part of a manifest that goes into artifact provenance."""
    return {"source": manifest["source"], "id": manifest["id"], "revision": manifest["revision"]}


def fetch_from_hub(model_id, revision, model_dir, required_files):
    """Download ``model_id`` at ``revision`` into ``model_dir`` and write its manifest.

    Files already in ``model_dir`` (e.g. copied by hand on a machine without
    network) are used as they are when all ``required_files`` are present.
    """
    model_dir = Path(model_dir)
    if not all((model_dir / name).is_file() for name in required_files):
        try:
            from huggingface_hub import snapshot_download

            snapshot_download(
                repo_id=model_id, revision=revision, local_dir=model_dir, allow_patterns=list(HUB_PATTERNS)
            )
        except Exception as error:  # any hub or network failure ends in the same advice
            raise ModelNotAvailable(_download_advice(model_id, revision, model_dir, required_files, error)) from error
    missing = [name for name in required_files if not (model_dir / name).is_file()]
    if missing:
        raise ModelNotAvailable(_download_advice(model_id, revision, model_dir, missing, "files not in the snapshot"))
    return write_manifest(model_dir, "hub", model_id, revision)


def _download_advice(model_id, revision, model_dir, files, error):
    listing = ", ".join(files)
    return (
        f"Could not fetch {model_id} at revision {revision} from the Hugging Face hub ({error}).\n"
        f"Download these files from https://huggingface.co/{model_id}/tree/{revision} : {listing}\n"
        f"and put them in {model_dir}/ , then rerun (the manifest is written from the local files).\n"
        f"Without network, the offline profile (--profile profiles/offline) runs on tiny random models."
    )


def _is_cache(path, root):
    return path.relative_to(root).parts[0] in (".cache", ".huggingface")
