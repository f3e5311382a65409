"""Per-image time of every stage on the shared photos, from Snakemake's benchmark files.

    .venv/bin/python benchmarks/stage_times.py [--size tiny] [--generated 0] [--shards 16]

Runs the offline profile end to end (models built first, not timed) and
prints, per stage, the summed job seconds, seconds per image and peak memory.
Job seconds include starting Python and importing the libraries.
"""

import argparse
import shutil
from collections import defaultdict

from common import SHARED_PHOTOS, benchmark_row, scratch_project, snakemake


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=["tiny", "full"], default="tiny", help="random model size")
    parser.add_argument("--generated", type=int, default=0, help="random images added to the shared photos")
    parser.add_argument("--shards", type=int, default=16)
    parser.add_argument("--steps", type=int, default=50, help="DDIM steps of the face generator")
    args = parser.parse_args()
    photos = sorted(p for p in SHARED_PHOTOS.glob("*") if p.suffix.lower() in (".jpg", ".png"))
    workdir = scratch_project(photos, generated=args.generated, execution={"shards": args.shards},
                              models={"offline_size": args.size}, fakes={"steps": args.steps})
    snakemake(workdir, *(f"resources/models/offline/{family}-{args.size}/manifest.json"
                         for family in ("detr", "face_generator")))
    wall = snakemake(workdir)
    n_images = len(list((workdir / "photos").iterdir()))
    seconds, memory, jobs = defaultdict(float), defaultdict(float), defaultdict(int)
    for tsv in sorted((workdir / "results" / "benchmarks").rglob("*.tsv")):
        stage = tsv.relative_to(workdir / "results" / "benchmarks").parts[0]
        row = benchmark_row(tsv)
        seconds[stage] += float(row["s"])
        memory[stage] = max(memory[stage], float(row["max_rss"]))
        jobs[stage] += 1
    print(f"{n_images} images, random models ({args.size}), {args.shards} shards, whole DAG {wall:.1f} s")
    print(f"{'stage':<18}{'jobs':>5}{'job s':>9}{'s/image':>9}{'peak MB':>9}")
    for stage in seconds:
        per_image = seconds[stage] / n_images
        print(f"{stage:<18}{jobs[stage]:>5}{seconds[stage]:>9.2f}{per_image:>9.2f}{memory[stage]:>9.0f}")
    shutil.rmtree(workdir)


if __name__ == "__main__":
    main()
