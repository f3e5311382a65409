"""Helpers shared by the benchmark scripts: a scratch project and a Snakemake call."""

import csv
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import yaml
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
SHARED_PHOTOS = REPO.parent / "shared" / "data" / "photos"
SNAKEMAKE = str(Path(sys.executable).parent / "snakemake")


def shared_photos():
    """The shared photos (../shared/data/photos: a few real photos of people), sorted."""
    return sorted(p for p in SHARED_PHOTOS.glob("*") if p.suffix.lower() in (".jpg", ".png"))


def scratch_project(photos=None, generated=0, empty_files=0, defaults=None, **config_sections):
    """A temporary project folder with a photos/ folder and a config.yaml: the defaults of
    ``defaults`` (a config.yaml; this repository's when None) with ``config_sections`` merged in."""
    workdir = Path(tempfile.mkdtemp(prefix="photoprivacy-bench-"))
    folder = workdir / "photos"
    folder.mkdir()
    for photo in photos or []:
        shutil.copy(photo, folder / Path(photo).name)
    rng = np.random.default_rng(0)
    for index in range(generated):
        pixels = rng.integers(0, 255, size=(480, 640, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(folder / f"generated_{index:05d}.jpg", quality=90)
    for index in range(empty_files):  # enough for a dry run, which decodes nothing
        (folder / f"id_{index:06d}.jpg").touch()
    config = yaml.safe_load(Path(defaults or REPO / "config.yaml").read_text())  # with these changes:
    config["input"]["images"] = str(folder)
    for section, values in config_sections.items():
        config.setdefault(section, {}).update(values)
    (workdir / "config.yaml").write_text(yaml.safe_dump(config))
    return workdir


def timed(function, *args):
    """Wall seconds of ``function(*args)``."""
    began = time.perf_counter()
    function(*args)
    return time.perf_counter() - began


def benchmark_row(tsv):
    """The row of one job's Snakemake benchmark file (s, max_rss, ...), as strings."""
    with open(tsv) as handle:
        return next(csv.DictReader(handle, delimiter="\t"))


def snakemake_command(workdir, *args, repo=REPO):
    """Snakemake's command line for ``workdir`` on the offline profile of the checkout ``repo``."""
    repo = Path(repo)
    return [SNAKEMAKE, "-s", str(repo / "Snakefile"), "-d", str(workdir),
            "--profile", str(repo / "profiles" / "offline"), *args]


def snakemake_env(repo=REPO):
    """Environment of a Snakemake call: no network and, for another checkout, its src/ first on the
    path (the venv's editable install points at this checkout's src/, which its Snakefile and
    jobs would import otherwise)."""
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    if Path(repo).resolve() != REPO:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(Path(repo).resolve() / "src"), env.get("PYTHONPATH")]))
    return env


def snakemake(workdir, *args, log=None, repo=REPO):
    """Run Snakemake on the offline profile of the checkout ``repo``; return wall seconds.

    With ``log`` (a path), Snakemake's own output goes there instead of being silenced.
    """
    command = snakemake_command(workdir, *args, repo=repo)
    env = snakemake_env(repo)
    began = time.perf_counter()
    if log is None:
        subprocess.run([*command, "--quiet", "all"], check=True, env=env, cwd=workdir)
    else:
        with open(log, "w") as handle:
            subprocess.run(command, check=True, env=env, cwd=workdir, stdout=handle, stderr=subprocess.STDOUT)
    return time.perf_counter() - began
