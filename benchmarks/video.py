"""Videos: what each stage costs per frame, and what ``video.scenario1_every`` saves and costs.

    .venv/bin/python benchmarks/video.py [--every 1 5] [--size tiny|full] [--keep]

Runs the workflow (offline profile: tiny random models, the annotations detector with the
hand-written boxes moved with the camera) on the video tests' project: pans with zoom across
city.jpg and coco01.jpg (10 fps, 2 s, audio), a photo and two bad videos, once per value of
``--every`` (video.scenario1_every). Prints per video its frames, tracks, majors and flicker-leak
frames per scenario, then per run the seconds per frame of each stage from Snakemake's benchmark
files (jobs over a video's frames; model jobs that also hold the photo are counted whole), and
the share of each frame scenario 1 hides, against every frame's own masks (every = 1).
With tiny models a model job's fixed cost (imports, model load) outweighs its frames; ``--size
full`` (full-size random weights, models.offline_size) times the models at their real size.
"""

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import yaml
from common import REPO, snakemake

sys.path.insert(0, str(REPO / "tests"))
from test_video_workflow import video_project  # noqa: E402  (one definition of the test videos)

from photoprivacy.video.render import read_decisions  # noqa: E402

VIDEOS = ("city_pan", "coco01_pan")
SCENE_STAGES = ("caption", "language", "relations", "scene", "masks")


def stage_seconds(results):
    """Stage -> seconds of its jobs over video frames (benchmark files named after a video or its shards)."""
    seconds = {}
    for path in (results / "benchmarks").rglob("*.tsv"):
        stage = path.relative_to(results / "benchmarks").parts[0]
        if not any(video in path.stem for video in VIDEOS):
            continue
        seconds[stage] = seconds.get(stage, 0.0) + float(pd.read_csv(path, sep="\t")["s"].iloc[0])
    return seconds


def hidden_share(results):
    """Per video, scenario 1's mean share of changed pixels per frame (its decision logs' mask pixels)."""
    shares = {}
    for video in VIDEOS:
        logs = read_decisions(results / "final" / "default" / "scenario1" / f"{video}.decisions.jsonl")
        frames = sorted((results / "frames" / video).glob("*.png"))
        height, width = cv2.imread(str(frames[0])).shape[:2]
        shares[video] = np.mean([sum(r["pixels"] for r in log["regions"] if r["component"] != "persons")
                                 / (height * width) for log in logs])
    return shares


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--every", type=int, nargs="+", default=[1, 5])
    parser.add_argument("--size", choices=("tiny", "full"), default="tiny", help="models.offline_size")
    parser.add_argument("--keep", action="store_true", help="keep the project folders")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="video-bench-"))
    runs = {}
    for every in args.every:
        workdir = root / f"every{every}"
        workdir.mkdir()
        video_project(workdir)
        config = yaml.safe_load((workdir / "config.yaml").read_text())
        config["video"]["scenario1_every"] = every
        config["models"]["offline_size"] = args.size
        (workdir / "config.yaml").write_text(yaml.safe_dump(config))
        snakemake(workdir, "--configfile", "config.yaml")
        runs[every] = workdir / "results"
    for every, results in runs.items():
        rows = pd.read_csv(results / "metrics" / "videos.csv")
        print(f"every {every}:")
        print(rows[["video_id", "scenario", "frames", "tracks", "majors", "memory_points", "leak_frames",
                    "faces_tracked", "faces_uncovered", "faces_redetected", "decision_changes", "strength_changes",
                    "ssim_outside"]].to_string(index=False))
    frames = int(rows.drop_duplicates("video_id")["frames"].sum())
    table = pd.DataFrame({f"every {every}": stage_seconds(results) for every, results in runs.items()})
    print(f"\nseconds per frame over {frames} frames (2 CPU threads, {args.size} models):")
    print((table / frames).round(4).sort_index().to_string())
    scene = table.loc[[stage for stage in SCENE_STAGES if stage in table.index]].sum()
    print("\nscenario 1's models and masks, seconds per frame:", (scene / frames).round(4).to_dict())
    for every, results in runs.items():
        keyframes = sum(len(pd.read_csv(path, sep="\t")) for path in (results / "shards" / "caption").glob("*.tsv")
                        if any(video in path.name for video in VIDEOS))
        print(f"every {every}: {keyframes} of {frames} frames through scenario 1's models")
    for every, results in runs.items():
        share = {video: round(value, 4) for video, value in hidden_share(results).items()}
        print(f"every {every}: share of each frame hidden besides persons (mean):", share)
    if args.keep:
        print(f"kept: {root}")
    else:
        shutil.rmtree(root)


if __name__ == "__main__":
    main()
