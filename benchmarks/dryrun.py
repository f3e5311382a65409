"""Dry-run time of the default DAG for many image ids (planning before the first job).

    .venv/bin/python benchmarks/dryrun.py [--images 100 10000 100000] [--shards 64]

Each count gets a project of empty photo files (a dry run decodes nothing) and
one timed `snakemake --dry-run` of the whole DAG, Snakemake's start included.
"""

import argparse
import shutil

from common import scratch_project, snakemake


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, nargs="+", default=[100, 10_000, 100_000], help="image id counts")
    parser.add_argument("--shards", type=int, nargs="+", default=[64], help="shard counts to time")
    args = parser.parse_args()
    for shards in args.shards:
        for images in args.images:
            workdir = scratch_project(empty_files=images, execution={"shards": shards})
            seconds = snakemake(workdir, "--dry-run")
            print(f"dry run, {images} image ids, {shards} shards: {seconds:.1f} s", flush=True)
            shutil.rmtree(workdir)


if __name__ == "__main__":
    main()
