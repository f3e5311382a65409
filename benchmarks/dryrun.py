"""Dry-run time of the workflow for many image ids (default 10,000).

    .venv/bin/python benchmarks/dryrun.py [--images 10000] [--shards 16 64]
"""

import argparse
import shutil

from common import scratch_project, snakemake


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=10_000, help="number of generated image ids")
    parser.add_argument("--shards", type=int, nargs="+", default=[16, 64], help="shard counts to time")
    args = parser.parse_args()
    for shards in args.shards:
        workdir = scratch_project(empty_files=args.images, execution={"shards": shards})
        seconds = snakemake(workdir, "--dry-run")
        print(f"dry run, {args.images} image ids, {shards} shards: {seconds:.1f} s")
        shutil.rmtree(workdir)


if __name__ == "__main__":
    main()
