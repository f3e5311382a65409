"""Detection stage inside Snakemake jobs versus a bare forward pass of the same model.

    .venv/bin/python benchmarks/detect_overhead.py [--size full] [--generated 0] [--shards 1]

Runs the offline profile's detection stage on the shared photos (plus
--generated random 640x480 images), then, in this process, the bare model
forward pass (preprocessing excluded, same batches) on the same images.
Prints the stage's wall time, per-image times and their ratio (the overhead
of jobs, image decoding, attention extraction and artifact writing).
"""

import argparse
import shutil
import time
from pathlib import Path

import torch
import yaml
from common import SHARED_PHOTOS, benchmark_row, scratch_project, snakemake


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=["tiny", "full"], default="full", help="random DETR size")
    parser.add_argument("--generated", type=int, default=0, help="random images added to the shared photos")
    parser.add_argument("--shards", type=int, default=1, help="shard count (1: one job, one model load)")
    parser.add_argument("--batch-size", type=int, default=4)
    args = parser.parse_args()

    photos = sorted(p for p in SHARED_PHOTOS.glob("*") if p.suffix.lower() in (".jpg", ".png"))
    workdir = scratch_project(
        photos, generated=args.generated, execution={"shards": args.shards, "batch_size": args.batch_size},
        models={"offline_size": args.size},
    )
    manifest = f"resources/models/offline/detr-{args.size}/manifest.json"
    snakemake(workdir, manifest)  # build the model first: not part of the stage's time
    stage_wall = snakemake(workdir, "results/summary/rejected.tsv")  # detection and its summary only
    job_seconds = sum(
        float(benchmark_row(tsv)["s"])
        for tsv in (workdir / "results" / "benchmarks" / "detect").glob("*.tsv")
    )
    n_images = len(list((workdir / "photos").iterdir()))

    from photoprivacy.detection.detr import DetrDetector, preprocess
    from photoprivacy.images import load_rgb

    torch.set_num_threads(2)  # as the rule's threads
    config = yaml.safe_load((workdir / "config.yaml").read_text())
    detect = config["detect"]
    detector = DetrDetector(Path(workdir) / Path(manifest).parent, detect["threshold"], detect["short_side"],
                            detect["max_side"], device="cpu", half=False)
    images = [load_rgb(p, config["execution"]["max_image_pixels"]) for p in sorted((workdir / "photos").iterdir())]
    batches = [preprocess(images[i : i + args.batch_size], detector.short_side, detector.max_side)
               for i in range(0, len(images), args.batch_size)]
    detector.forward(*batches[0])  # warm-up, as the first batch in a job also pays it
    began = time.perf_counter()
    for pixel_values, pixel_mask in batches:
        detector.forward(pixel_values, pixel_mask)
    bare = time.perf_counter() - began

    print(f"random DETR ({args.size}), {n_images} images, {args.shards} shard(s), batch {args.batch_size}, "
          f"{torch.get_num_threads()} threads, device cpu")
    print(f"detection stage wall time (snakemake, incl. DAG and job start): {stage_wall:.2f} s")
    print(f"inside jobs (benchmark files): {job_seconds:.2f} s = {job_seconds / n_images:.3f} s/image")
    print(f"bare forward pass: {bare:.2f} s = {bare / n_images:.3f} s/image")
    print(f"overhead ratio (job / bare forward): {job_seconds / bare:.2f}")
    shutil.rmtree(workdir)


if __name__ == "__main__":
    main()
