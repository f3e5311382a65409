"""Local model folders and their manifests.

A model folder under resources/ holds the files ``from_pretrained`` reads plus
``manifest.json``: where the files came from (hub id and pinned revision, or
the offline builder) and the SHA-256 of each. Inference verifies the manifest
and loads local files only; it never reaches the network.
"""

import hashlib
import logging
import os
import time
from pathlib import Path

from ..artifacts import give_usual_read_access, read_json, write_json
from ..errors import ModelNotAvailable

MANIFEST = "manifest.json"
# What from_pretrained needs: configs, safetensors weights, tokenizer text files.
HUB_PATTERNS = ("*.json", "*.safetensors", "*.txt")
HUB_URL = "https://huggingface.co"
_log = logging.getLogger(__name__)
# How verify_manifest checks a folder when its caller does not say (config key models.verify;
# the workflow sets this variable for its jobs, see rules/common.smk).
VERIFY_ENV = "PHOTOPRIVACY_MODEL_VERIFY"
VERIFY_MODES = ("fast", "full")


def sha256_of(path, chunk=1 << 20):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(chunk), b""):
            digest.update(block)
    return digest.hexdigest()


def write_manifest(model_dir, source, model_id, revision, extra=None):
    """Record every model file in ``model_dir`` with its size and SHA-256.

    Each file gets the read permissions of a newly created one (0644 under umask 022): the
    safetensors writer and hub downloads go through temp files that leave 0600.
    """
    model_dir = Path(model_dir)
    files = {}
    for path in sorted(model_dir.rglob("*")):
        if path.is_file() and path.name != MANIFEST and not _is_cache(path, model_dir):
            give_usual_read_access(path)
            files[path.relative_to(model_dir).as_posix()] = {"bytes": path.stat().st_size, "sha256": sha256_of(path)}
    manifest = {"source": source, "id": model_id, "revision": revision, "files": files, **(extra or {})}
    write_json(model_dir / MANIFEST, manifest)
    return manifest


def model_folder(manifests):
    """The folder of a job's model input, a list of at most one manifest (none: the chosen
    implementation has no model), or None."""
    return Path(manifests[0]).parent if manifests else None


def read_manifest(model_dir):
    """The manifest as it is, unchecked (``verify_manifest`` checks the files against it)."""
    return read_json(Path(model_dir) / MANIFEST)


def verify_mode(mode=None):
    """``mode``, else the environment's (VERIFY_ENV), else ``fast``; checked against VERIFY_MODES."""
    mode = mode or os.environ.get(VERIFY_ENV) or "fast"
    if mode not in VERIFY_MODES:
        raise ValueError(f"model verification mode '{mode}' is not one of {VERIFY_MODES} (config key models.verify)")
    return mode


def verify_manifest(model_dir, mode=None):
    """Check every file against the manifest; return the manifest.

    ``mode`` (default: see ``verify_mode``; the workflow's config key models.verify):

    - ``fast``: a file is hashed again only when its size differs or it was modified after the
      manifest was written, so an untouched folder costs a stat per file, not a read of its
      gigabytes. It misses a change of the same size whose old modification time was put back
      (``cp -p``, ``rsync -t``, ``touch -r``, ``os.utime``).
    - ``full``: every file is hashed, whatever its size and time say.

    A missing file (or manifest) raises ``ModelNotAvailable`` saying how to get it back.
    """
    mode = verify_mode(mode)
    model_dir = Path(model_dir)
    manifest_path = model_dir / MANIFEST
    if not manifest_path.is_file():
        raise ModelNotAvailable(
            f"{manifest_path} is missing: run the workflow (make run, or make offline without network); "
            f"its rule fetch_model (build_offline_model offline) fills {model_dir}/"
        )
    manifest = read_json(manifest_path)
    written = manifest_path.stat().st_mtime_ns
    missing = [name for name in manifest["files"] if not (model_dir / name).is_file()]
    if missing:
        raise ModelNotAvailable(missing_files_advice(model_dir, manifest, missing))
    start, hashed = time.perf_counter(), 0
    for name, entry in manifest["files"].items():
        path = model_dir / name
        status = path.stat()
        if mode == "full" or status.st_size != entry["bytes"] or status.st_mtime_ns > written:
            hashed += 1
            if sha256_of(path) != entry["sha256"]:
                raise ModelNotAvailable(
                    f"model file {path} does not match the SHA-256 in {manifest_path}: delete it and "
                    f"rerun the workflow, which fetches or builds it again"
                )
    _log.info("%s matches its manifest (models.verify %s: %d of %d files hashed in %.2f s)", model_dir, mode,
              hashed, len(manifest["files"]), time.perf_counter() - start)
    return manifest


def missing_files_advice(model_dir, manifest, missing):
    """How to get back files that ``manifest`` lists and ``model_dir`` lacks."""
    listing = ", ".join(missing)
    head = f"model file(s) {listing} listed in {Path(model_dir) / MANIFEST} are missing from {model_dir}/."
    if manifest["source"] == "hub":
        url = hub_tree_url(manifest["id"], manifest["revision"])
        return (
            f"{head}\nRerun the workflow (make run): it downloads them again (rule restore_model_<family>). "
            f"Without network, download them from {url} and put them in {model_dir}/ ."
        )
    if manifest["source"] == "offline":
        return (
            f"{head}\nRerun the workflow (make offline): it builds the same bytes again "
            f"(rule restore_model_<family>)."
        )
    return f"{head}\nDelete {Path(model_dir) / MANIFEST} and rerun the workflow, which makes the folder again."


def hub_tree_url(model_id, revision):
    return f"{HUB_URL}/{model_id}/tree/{revision}"


def model_summary(manifest):
    """The part of a manifest that goes into artifact provenance."""
    return {"source": manifest["source"], "id": manifest["id"], "revision": manifest["revision"]}


def fetch_from_hub(model_id, revision, model_dir, required_files):
    """Download ``model_id`` at ``revision`` into ``model_dir`` and write its manifest.

    Files already in ``model_dir`` (e.g. copied by hand on a machine without network) are used
    as they are when all ``required_files`` are present, and so are the files a previous
    manifest of the folder lists (one of them missing is downloaded again).
    """
    model_dir = Path(model_dir)
    needed = list(dict.fromkeys([*required_files, *listed_files(model_dir)]))
    if not all((model_dir / name).is_file() for name in needed):
        try:
            from huggingface_hub import snapshot_download

            _probe_hub(model_id, revision)
            snapshot_download(
                repo_id=model_id, revision=revision, local_dir=model_dir, allow_patterns=list(HUB_PATTERNS)
            )
        except Exception as error:  # any hub or network failure ends in the same advice
            absent = [name for name in needed if not (model_dir / name).is_file()]
            raise ModelNotAvailable(_download_advice(model_id, revision, model_dir, absent, error)) from error
    missing = [name for name in needed if not (model_dir / name).is_file()]
    if missing:
        raise ModelNotAvailable(_download_advice(model_id, revision, model_dir, missing, "files not in the snapshot"))
    return write_manifest(model_dir, "hub", model_id, revision)


def listed_files(model_dir):
    """The files the folder's manifest lists; none when it has no readable manifest."""
    try:
        return list(read_manifest(model_dir)["files"])
    except (OSError, ValueError, KeyError, TypeError):
        return []


def _probe_hub(model_id, revision):
    """One request, no retries, HF_HUB_ETAG_TIMEOUT seconds at most (10 by default): without
    network snapshot_download retries each request for about 25 s (longer when packets are
    dropped), and each fetch job would wait that long before saying so."""
    from huggingface_hub import constants, model_info

    if constants.is_offline_mode() or os.environ.get("HF_HUB_OFFLINE", "").upper() in ("1", "ON", "YES", "TRUE"):
        raise ModelNotAvailable("HF_HUB_OFFLINE is set, so nothing is downloaded")
    try:
        model_info(model_id, revision=revision, timeout=constants.HF_HUB_ETAG_TIMEOUT)
    except Exception as error:
        reason = str(error).strip().splitlines()[0] if str(error).strip() else ""
        raise ModelNotAvailable(f"request to {constants.ENDPOINT} failed: {type(error).__name__}: {reason}") from error


def _download_advice(model_id, revision, model_dir, files, error):
    listing = ", ".join(files)
    return (
        f"Could not fetch {model_id} at revision {revision} from the Hugging Face hub ({error}).\n"
        f"Download these files from {hub_tree_url(model_id, revision)} : {listing}\n"
        f"and put them in {model_dir}/ , then rerun (the manifest is written from the local files).\n"
        f"Without network, try the workflow with `make offline`: it runs on tiny random models "
        f"(snakemake --profile profiles/offline)."
    )


def _is_cache(path, root):
    return path.relative_to(root).parts[0] in (".cache", ".huggingface")
