"""Snakemake's own time around one shard job: planning before it, bookkeeping after it.

    .venv/bin/python benchmarks/snakemake_overhead.py [--images 1000] [--repo .]

Runs the detection stage (tiny random DETR at 48 px, built first and not timed)
as one shard job over N generated 64x48 photos, and prints: the dry run's wall time
(planning), the run's wall time, the job's own seconds (its benchmark file:
Python start, imports, model, images, artifacts) and what is left, Snakemake's
work around the job (planning again, checking and recording outputs). ``--repo``
times another checkout of the workflow (e.g. a git worktree of an older commit).
"""

import argparse
import csv
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import yaml
from common import REPO, scratch_project
from PIL import Image


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=1000)
    parser.add_argument("--repo", type=Path, default=REPO, help="checkout whose Snakefile is timed")
    args = parser.parse_args()
    workdir = scratch_project()
    config = yaml.safe_load((args.repo / "config.yaml").read_text())  # that checkout's defaults
    config["input"]["images"] = str(workdir / "photos")
    config["execution"]["shards"] = 1
    config["detect"].update(short_side=48, max_side=64)  # DETR's own resize would make 800 px photos
    (workdir / "config.yaml").write_text(yaml.safe_dump(config))
    rng = np.random.default_rng(0)
    for index in range(args.images):
        Image.fromarray(rng.integers(0, 255, (48, 64, 3), np.uint8)).save(workdir / "photos" / f"p{index:05d}.png")

    def snakemake(*arguments):
        command = [str(Path(sys.executable).parent / "snakemake"), "-s", str(args.repo / "Snakefile"),
                   "-d", str(workdir), "--profile", str(args.repo / "profiles" / "offline"), *arguments,
                   "--quiet", "all"]
        began = time.perf_counter()
        subprocess.run(command, check=True, cwd=workdir, env=dict(os.environ, HF_HUB_OFFLINE="1"),
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return time.perf_counter() - began

    snakemake("resources/models/offline/detr-tiny/manifest.json")
    planning = snakemake("-n", "detect_0000")
    wall = snakemake("detect_0000")
    with open(workdir / "results" / "benchmarks" / "detect" / "0000.tsv") as handle:
        job = float(next(csv.DictReader(handle, delimiter="\t"))["s"])
    print(f"{args.images} photos, one detection job ({args.repo}):")
    print(f"  dry run (planning)         {planning:7.1f} s")
    print(f"  run, wall                  {wall:7.1f} s")
    print(f"  the job itself (benchmark) {job:7.1f} s")
    print(f"  Snakemake around the job   {wall - job:7.1f} s ({(wall - job - planning) * 1000 / args.images:.2f} ms "
          "per photo beyond planning)")
    shutil.rmtree(workdir)


if __name__ == "__main__":
    main()
