"""The whole workflow on N generated images with full-size random models, against bare forward passes.

    .venv/bin/python benchmarks/workflow.py [--images 20] [--shared] [--shards 8] [--size full]

Runs the offline profile (models built first, not timed) and prints, in one run:
the wall time of the whole DAG (both scenarios, evaluation, figures); the sum
of the models' bare forward passes on the same images in this process (DETR
on the photos, captioner generation and scene classifier on the photos, and
evaluation's DETR, captioner and CenterFace on the protected photos); their
ratio; images per second; job seconds and peak memory per stage (from
Snakemake's benchmark files); and the wall time of two reruns: after changing
one render parameter, and after editing one image.
"""

import argparse
import csv
import re
import shutil
from collections import defaultdict
from datetime import datetime
from pathlib import Path

import numpy as np
import torch
import yaml
from common import scratch_project, shared_photos, snakemake, timed
from PIL import Image

MODEL_FAMILIES = ("detr", "captioner_blip", "scene_classifier", "face_generator")
RULE_OF_FOLDER = {"summary": "summarize_rejected"}  # benchmark folders named otherwise than their rule


def batches(items, size):
    return [items[start : start + size] for start in range(0, len(items), size)]


def bare_forward_seconds(workdir, size, photos, protected, batch_size):
    """Seconds of each model's forward passes alone, on the images its stages see."""
    from photoprivacy.caption.models import load_captioner
    from photoprivacy.caption.word_attention import caption_texts
    from photoprivacy.detection.detr import DetrDetector, preprocess
    from photoprivacy.faces.detectors import CenterFaceDetector
    from photoprivacy.scene.classifier import load_scene_classifier
    from photoprivacy.scene.relevance import preprocess_scene, scene_preprocessing

    config = yaml.safe_load((workdir / "config.yaml").read_text())
    detect, execution = config["detect"], config["execution"]
    models = workdir / "resources" / "models" / "offline"
    detr = DetrDetector(models / f"detr-{size}", detect["threshold"], detect["short_side"], detect["max_side"],
                        execution["device"], execution["half_precision"])
    captioner = load_captioner(models / f"captioner_blip-{size}", "blip", "cpu")
    scene, _ = load_scene_classifier(models / f"scene_classifier-{size}")
    scene_input = scene_preprocessing(scene, config["scene"]["preprocessing"])  # as the scene rule
    faces = CenterFaceDetector(config["evaluate"]["face_threshold"], config["evaluate"]["face_max_side"])

    def detr_forward(images):
        detr.forward(*preprocess(images, detr.short_side, detr.max_side))

    def scene_forward(images):
        with torch.inference_mode():
            scene(torch.cat([preprocess_scene(image, scene_input) for image in images]))

    def face_calls(images):
        for image in images:
            faces(image)

    def captions(images):
        caption_texts(captioner, images, config["caption"]["max_new_tokens"], config["caption"]["num_beams"])

    detr_forward(photos[:1])  # warm-up: first calls allocate
    captions(photos[:1])
    seconds = defaultdict(float)
    for batch in batches(photos, batch_size):
        seconds["detect: DETR"] += timed(detr_forward, batch)
        seconds["caption: generation"] += timed(captions, batch)
        seconds["scene: classifier"] += timed(scene_forward, batch)
    for batch in batches(protected, batch_size):
        seconds["evaluate: DETR"] += timed(detr_forward, batch)
        seconds["evaluate: generation"] += timed(captions, batch)
        # CenterFace runs on the original and the protected photo of each evaluation
        seconds["evaluate: CenterFace"] += 2 * timed(face_calls, batch)
    return seconds


def stage_table(workdir, intervals):
    """Stage -> [jobs, summed job seconds from the benchmark files, summed job wall from Snakemake's
    output, peak max_rss MB]. A job that ends before the first memory sample shows 0 MB."""
    table = defaultdict(lambda: [0, 0.0, 0.0, 0.0])
    for rule, start, stop in intervals:
        if rule != "all":
            table[re.sub(r"_\d+$", "", rule)][2] += stop - start
    for tsv in sorted((workdir / "results" / "benchmarks").rglob("*.tsv")):
        stage = tsv.relative_to(workdir / "results" / "benchmarks").parts[0]
        if stage == "models":  # built before the timed run
            continue
        stage = RULE_OF_FOLDER.get(stage, stage)
        with tsv.open() as handle:
            row = next(csv.DictReader(handle, delimiter="\t"))
        entry = table[stage]
        entry[0] += 1
        entry[1] += float(row["s"])
        entry[3] = max(entry[3], float(row["max_rss"]) if row["max_rss"] != "NA" else 0.0)
    return table


def job_intervals(log):
    """(rule, start, end) of every job, from the timestamps in Snakemake's output (1 s resolution)."""
    stamp, rule, started, intervals = None, None, {}, []
    for line in Path(log).read_text().splitlines():
        if line.startswith("[") and line.endswith("]"):
            stamp = datetime.strptime(line[1:-1], "%a %b %d %H:%M:%S %Y").timestamp()
        elif line.startswith(("localrule ", "rule ")):
            rule = line.split()[1].rstrip(":")
        elif line.strip().startswith("jobid:"):
            started[line.split(":")[1].strip()] = (rule, stamp)
        elif line.startswith("Finished jobid:"):
            job = line.split(":")[1].split()[0]
            if job in started:
                rule, began = started.pop(job)
                intervals.append((rule, began, stamp))
    return intervals


def busy_seconds(intervals):
    """Seconds in which at least one job ran."""
    busy, end = 0.0, None
    for _, start, stop in sorted(intervals, key=lambda interval: interval[1]):
        if end is None or start > end:
            busy, end = busy + stop - start, stop
        elif stop > end:
            busy, end = busy + stop - end, stop
    return busy


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=20, help="generated images (N)")
    parser.add_argument("--shared", action="store_true",
                        help="the shared photos (../shared/data/photos) before the generated ones")
    parser.add_argument("--shards", type=int, default=8, help="execution.shards")
    parser.add_argument("--size", choices=["tiny", "full"], default="full", help="random model size")
    parser.add_argument("--keep", action="store_true", help="keep the scratch project")
    args = parser.parse_args()
    torch.set_num_threads(2)  # as the rules' threads
    workdir = scratch_project(shared_photos() if args.shared else None, generated=args.images,
                              execution={"shards": args.shards},
                              models={"offline_size": args.size})
    snakemake(workdir, *(f"resources/models/offline/{family}-{args.size}/manifest.json" for family in MODEL_FAMILIES))
    logs = workdir / "benchmark_logs"
    logs.mkdir()
    wall = snakemake(workdir, log=logs / "whole.log")
    whole_jobs = job_intervals(logs / "whole.log")
    stages = stage_table(workdir, whole_jobs)

    from photoprivacy.images import load_rgb

    config = yaml.safe_load((workdir / "config.yaml").read_text())
    photo_paths = sorted((workdir / "photos").iterdir())
    max_pixels = config["execution"]["max_image_pixels"]
    photos = [load_rgb(path, max_pixels) for path in photo_paths]
    final = workdir / "results" / "final" / config["variant"]
    protected = [load_rgb(final / scenario / f"{path.stem}.png", max_pixels) for scenario in ("scenario1", "scenario2")
                 for path in photo_paths]
    bare = bare_forward_seconds(workdir, args.size, photos, protected, config["execution"]["batch_size"])

    # Rerun 1: one render parameter changed (scenario 1's method), as a sweep would.
    config["render"]["scenario1"]["method"] = "blur"
    (workdir / "changed.yaml").write_text(yaml.safe_dump(config))
    rerun_render = snakemake(workdir, "--configfile", "changed.yaml", log=logs / "render.log")
    # Rerun 2: one photo edited.
    edited = photo_paths[0]
    pixels = np.asarray(Image.open(edited)).copy()
    pixels[:10] = 255 - pixels[:10]
    Image.fromarray(pixels).save(edited, quality=90)
    rerun_image = snakemake(workdir, "--configfile", "changed.yaml", log=logs / "image.log")

    n = len(photos)
    bare_total = sum(bare.values())
    source = "the shared ones, then generated 640x480" if args.shared else "generated 640x480"
    print(f"{n} images ({source}), random models ({args.size}), {args.shards} shards, "
          f"{torch.get_num_threads()} threads, batch {config['execution']['batch_size']}")
    print(f"whole DAG: {wall:.1f} s wall, {n / wall:.3f} images/s; some job running during "
          f"{busy_seconds(whole_jobs):.0f} s")
    print(f"bare forward passes: {bare_total:.1f} s  ->  ratio wall / bare = {wall / bare_total:.2f}")
    for name, seconds in bare.items():
        print(f"    {name:<24}{seconds:>8.1f} s")
    print("per stage: job s = Snakemake's benchmark files; job wall = from job start to finish in its output")
    print(f"{'stage':<22}{'jobs':>5}{'job s':>9}{'job wall':>9}{'wall/img':>9}{'peak MB':>9}")
    for stage, (jobs, seconds, job_wall, peak) in sorted(stages.items(), key=lambda item: -item[1][2]):
        print(f"{stage:<22}{jobs:>5}{seconds:>9.1f}{job_wall:>9.0f}{job_wall / n:>9.2f}{peak:>9.0f}")
    print(f"rerun after render.scenario1.method -> blur: {rerun_render:.1f} s "
          f"(some job running during {busy_seconds(job_intervals(logs / 'render.log')):.0f} s)")
    print(f"rerun after editing one image ({edited.name}): {rerun_image:.1f} s "
          f"(some job running during {busy_seconds(job_intervals(logs / 'image.log')):.0f} s)")
    if args.keep:
        print(f"project kept in {workdir}")
    else:
        shutil.rmtree(workdir)


if __name__ == "__main__":
    main()
