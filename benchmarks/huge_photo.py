"""Scenario 2 on a huge photo vs its downscaled copy: time per stage.

    .venv/bin/python benchmarks/huge_photo.py [--width 12000] [--height 9000] [--factor 10]

Builds a WIDTH x HEIGHT photo (coco02.jpg upscaled as the background, the
astronaut pasted 6x as large, so her face is about 550 px wide) and a copy
shrunk by FACTOR, gives the astronaut's box through the annotations detector,
and runs scenario 2 (detect, persons, faces, fakes, render) on each through
Snakemake's offline profile. Prints each stage's job seconds and peak memory
(benchmark files) for both, and their ratio. Face detection runs on the person
crop shrunk to faces.max_side, so it costs about the same on both.
"""

import argparse
import json
import shutil

import cv2
import numpy as np
import yaml
from common import SHARED_PHOTOS, benchmark_row, scratch_project, snakemake

STAGES = ("detect", "persons", "faces", "fakes", "render_scenario2")


def build_photo(width, height):
    background = cv2.imread(str(SHARED_PHOTOS / "coco02.jpg"))
    canvas = cv2.resize(background, (width, height), interpolation=cv2.INTER_CUBIC)
    astronaut = cv2.imread(str(SHARED_PHOTOS / "astronaut.png"))
    person = cv2.resize(astronaut, None, fx=6, fy=6, interpolation=cv2.INTER_CUBIC)
    top, left = height // 6, width // 3
    canvas[top : top + person.shape[0], left : left + person.shape[1]] = person
    box = [left + 30 * 6, top + 15 * 6, left + person.shape[1], top + person.shape[0]]  # the hand-written box, 6x
    return canvas, box


def stage_seconds(workdir):
    seconds, memory = {}, {}
    for stage in STAGES:
        for tsv in (workdir / "results" / "benchmarks" / stage).rglob("*.tsv"):
            row = benchmark_row(tsv)
            seconds[stage] = seconds.get(stage, 0.0) + float(row["s"])
            memory[stage] = max(memory.get(stage, 0.0), float(row["max_rss"]))
    return seconds, memory


def run(image, box, name):
    workdir = scratch_project()
    path = workdir / "photos" / f"{name}.jpg"
    cv2.imwrite(str(path), image, [cv2.IMWRITE_JPEG_QUALITY, 92])
    height, width = image.shape[:2]
    coco = {"categories": [{"id": 1, "name": "person"}], "images": [{"id": 1, "file_name": path.name}],
            "annotations": [{"id": 1, "image_id": 1, "category_id": 1,
                             "bbox": [box[0], box[1], box[2] - box[0], box[3] - box[1]]}]}
    (workdir / "boxes.json").write_text(json.dumps(coco))
    config = yaml.safe_load((workdir / "config.yaml").read_text())
    config["detect"].update(method="annotations", annotations=str(workdir / "boxes.json"))
    (workdir / "config.yaml").write_text(yaml.safe_dump(config))
    snakemake(workdir, "resources/models/offline/face_generator-tiny/manifest.json", log=workdir / "models.log")
    wall = snakemake(workdir, f"results/final/default/scenario2/{name}.png", log=workdir / "run.log")
    seconds, memory = stage_seconds(workdir)
    print(f"{name}: {width} x {height}, scenario 2 wall {wall:.1f} s")
    shutil.rmtree(workdir)
    return seconds, memory


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--width", type=int, default=12000)
    parser.add_argument("--height", type=int, default=9000)
    parser.add_argument("--factor", type=int, default=10, help="the copy is this many times smaller per side")
    args = parser.parse_args()
    huge, box = build_photo(args.width, args.height)
    small = cv2.resize(huge, (args.width // args.factor, args.height // args.factor), interpolation=cv2.INTER_AREA)
    small_box = [v / args.factor for v in box]
    big_s, big_mb = run(huge, box, "huge")
    small_s, small_mb = run(small, small_box, "copy")
    print(f"{'stage':<18}{'huge s':>9}{'copy s':>9}{'ratio':>7}{'huge MB':>9}{'copy MB':>9}")
    for stage in STAGES:
        ratio = big_s.get(stage, np.nan) / small_s.get(stage, np.nan)
        print(f"{stage:<18}{big_s.get(stage, np.nan):>9.2f}{small_s.get(stage, np.nan):>9.2f}{ratio:>7.2f}"
              f"{big_mb.get(stage, np.nan):>9.0f}{small_mb.get(stage, np.nan):>9.0f}")


if __name__ == "__main__":
    main()
