"""Which photos a run covers: discovery, image ids, and shard assignment.

An image id is derived from the photo's path relative to the input folder, so
it is stable across machines and safe as a file name: accents are folded to
ASCII, path separators become ``__``, anything else outside ``[A-Za-z0-9._-]``
becomes ``_``. Where characters cannot be folded (e.g. Chinese script) a short
hash of the relative path keeps ids distinct. Two photos that still map to one
id are an error naming both.
"""

import csv
import hashlib
import os
import re
import unicodedata
from pathlib import Path

from .errors import ConfigError

ID_PATTERN = r"[A-Za-z0-9][A-Za-z0-9._-]*"
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_ID_RE = re.compile(ID_PATTERN + r"\Z")


def image_id_from_relpath(relpath):
    """Derive the image id of a photo from its path relative to the input folder."""
    relpath = relpath if isinstance(relpath, str) else Path(relpath).as_posix()
    *folders, name = relpath.split("/")
    dot = name.rfind(".")
    stem = name[:dot] if 0 < dot < len(name) - 1 else name  # as Path.stem
    original = "/".join([*folders, stem])
    folded = unicodedata.normalize("NFKD", original)
    lost = any(ord(ch) > 127 and not unicodedata.combining(ch) for ch in folded)
    ascii_text = folded.encode("ascii", "ignore").decode("ascii")
    slug = "__".join(_UNSAFE.sub("_", part).strip("_") for part in ascii_text.split("/"))
    slug = slug.strip("._-")
    if lost or not slug:
        digest = hashlib.sha1(relpath.encode("utf-8")).hexdigest()[:8]
        slug = f"{slug}_{digest}" if slug else f"img_{digest}"
    return slug


def discover_images(folder, extensions):
    """Map image id -> path for every image below ``folder`` (recursive, hidden files and
    folders skipped), in path order. Plain strings and os.scandir: a dataset of 100,000
    photos is listed on every Snakemake start."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ConfigError(f"config key input.images: folder '{folder}' does not exist")
    suffixes = {"." + ext.lower().lstrip(".") for ext in extensions}
    relpaths = [rel for rel in _files_below(folder) if os.path.splitext(rel)[1].lower() in suffixes]
    images = {}
    for relpath in sorted(relpaths, key=lambda rel: rel.split("/")):  # the order of Path parts
        _add_unique(images, image_id_from_relpath(relpath), folder / relpath)
    return images


def _files_below(folder):
    """Relative posix paths of the files below ``folder``, following links as rglob does."""
    pending = [("", folder)]
    while pending:
        prefix, path = pending.pop()
        with os.scandir(path) as entries:
            for entry in entries:
                if entry.name.startswith("."):
                    continue
                if entry.is_dir():
                    pending.append((f"{prefix}{entry.name}/", entry.path))
                elif entry.is_file():
                    yield f"{prefix}{entry.name}"


def read_sample_sheet(sheet):
    """Map image id -> path from a CSV with columns ``id`` and ``path``.

    Relative paths are taken relative to the sheet's folder.
    """
    sheet = Path(sheet)
    if not sheet.is_file():
        raise ConfigError(f"config key input.sample_sheet: file '{sheet}' does not exist")
    images = {}
    with sheet.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        missing = {"id", "path"} - set(reader.fieldnames or [])
        if missing:
            raise ConfigError(
                f"config key input.sample_sheet: '{sheet}' lacks column(s) {sorted(missing)}"
            )
        for line, row in enumerate(reader, start=2):
            image_id = row["id"].strip()
            if not _ID_RE.match(image_id):
                raise ConfigError(
                    f"config key input.sample_sheet: '{sheet}' line {line}: id '{image_id}' "
                    f"is not safe as a file name (allowed: {ID_PATTERN})"
                )
            path = Path(row["path"].strip())
            _add_unique(images, image_id, path if path.is_absolute() else sheet.parent / path)
    return images


def collect_images(input_config):
    """Photos and videos of a run from the ``input`` config section (sample sheet wins over
    folder): id -> path, one id namespace for both."""
    if input_config.get("sample_sheet"):
        images = read_sample_sheet(input_config["sample_sheet"])
    else:
        extensions = [*input_config["extensions"], *input_config.get("video_extensions", [])]
        images = discover_images(input_config["images"], extensions)
    if not images:
        source = input_config.get("sample_sheet") or input_config["images"]
        raise ConfigError(f"config key input: no images or videos found in '{source}'")
    return images


def shard_of(image_id, n_shards):
    """Stable bucket of an image id: a hash, so adding one image moves no other."""
    digest = hashlib.sha256(image_id.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % n_shards


def shard_name(index):
    return f"{index:04d}"


def assign_shards(image_ids, n_shards):
    """Map shard name -> sorted image ids; shards without images are left out."""
    shards = {}
    for image_id in sorted(image_ids):
        shards.setdefault(shard_name(shard_of(image_id, n_shards)), []).append(image_id)
    return dict(sorted(shards.items()))


def group_shards(shards, n_jobs):
    """Split the (sorted) shard names into at most ``n_jobs`` runs of consecutive shards, as
    even as can be; each is named after its first and last shard ("0003-0040"), or its
    only one. Returns name -> shard names."""
    names = sorted(shards)
    n_jobs = min(n_jobs, len(names))
    groups = {}
    for job in range(n_jobs):
        run = names[len(names) * job // n_jobs : len(names) * (job + 1) // n_jobs]
        groups[run[0] if len(run) == 1 else f"{run[0]}-{run[-1]}"] = run
    return groups


def _add_unique(images, image_id, path):
    if image_id in images:
        raise ConfigError(
            f"config key input: '{images[image_id]}' and '{path}' both map to image id "
            f"'{image_id}'; rename one of them"
        )
    images[image_id] = path
