"""Scenario 1's model stages (caption, scene with relevance) inside Snakemake jobs versus
bare forward passes of the same models in the same run.

    .venv/bin/python benchmarks/scenario1_models.py [--size full] [--captioner blip]

Runs the offline profile's caption and scene stages on the shared photos in
one shard (one job each, models built first and not timed), then, in this
process: the captioner's greedy generation, the scene classifier's forward
pass, and the forward + backward pass that the relevance map needs.
"""

import argparse
import shutil
import time

import torch
import yaml
from common import SHARED_PHOTOS, benchmark_row, scratch_project, snakemake


def job_seconds(workdir, stage):
    return sum(float(benchmark_row(tsv)["s"])
               for tsv in (workdir / "results" / "benchmarks" / stage).glob("*.tsv"))


def timed(function):
    began = time.perf_counter()
    function()
    return time.perf_counter() - began


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=["tiny", "full"], default="full")
    parser.add_argument("--captioner", choices=["blip", "vit_gpt2"], default="blip")
    args = parser.parse_args()
    photos = sorted(p for p in SHARED_PHOTOS.glob("*") if p.suffix.lower() in (".jpg", ".png"))
    workdir = scratch_project(photos, execution={"shards": 1}, models={"offline_size": args.size},
                              caption={"model": args.captioner})
    caption_dir = f"resources/models/offline/captioner_{args.captioner}-{args.size}"
    scene_dir = f"resources/models/offline/scene_classifier-{args.size}"
    snakemake(workdir, f"{caption_dir}/manifest.json", f"{scene_dir}/manifest.json")
    ids = [p.stem for p in photos]
    wall = snakemake(workdir, *[f"results/caption/{i}.json" for i in ids], *[f"results/scene/{i}.json" for i in ids])
    n = len(ids)

    from photoprivacy.caption.models import load_captioner
    from photoprivacy.caption.word_attention import encode, generate, preprocess
    from photoprivacy.images import load_rgb
    from photoprivacy.scene.classifier import load_scene_classifier
    from photoprivacy.scene.relevance import preprocess_scene, relevance_grid, scene_preprocessing

    torch.set_num_threads(2)  # as the rules' threads
    config = yaml.safe_load((workdir / "config.yaml").read_text())
    images = [load_rgb(p, config["execution"]["max_image_pixels"]) for p in photos]
    captioner = load_captioner(workdir / caption_dir, args.captioner, "cpu")
    pixel_values = preprocess(captioner, images)

    def caption_forward():
        with torch.inference_mode():
            generate(captioner, encode(captioner, pixel_values), config["caption"]["max_new_tokens"],
                     config["caption"]["num_beams"])

    caption_bare = timed(caption_forward)
    model, _ = load_scene_classifier(workdir / scene_dir)
    preprocessing = scene_preprocessing(model, config["scene"]["preprocessing"])  # as the scene rule
    inputs = [preprocess_scene(image, preprocessing) for image in images]

    def scene_forward():
        with torch.inference_mode():
            for x in inputs:
                model(x)

    scene_bare = timed(scene_forward)
    relevance_bare = timed(lambda: [relevance_grid(model, x) for x in inputs])
    caption_job, scene_job = job_seconds(workdir, "caption"), job_seconds(workdir, "scene")
    print(f"{n} shared photos, random {args.size} models, captioner {args.captioner}, 2 threads, cpu; "
          f"both stages' DAG {wall:.1f} s")
    print(f"caption: {caption_job / n:.2f} s/image in the job vs {caption_bare / n:.2f} s/image bare generation "
          f"(ratio {caption_job / caption_bare:.2f})")
    print(f"scene:   {scene_job / n:.2f} s/image in the job vs {scene_bare / n:.2f} s/image bare forward, "
          f"{relevance_bare / n:.2f} s/image forward + backward for relevance (ratio to the latter "
          f"{scene_job / relevance_bare:.2f})")
    shutil.rmtree(workdir)


if __name__ == "__main__":
    main()
