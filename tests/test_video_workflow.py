"""Videos end to end: slow pans with zoom across city.jpg and coco01.jpg (10 fps, 2 s, AAC audio), with
hand-written person boxes moved with the camera (the annotations detector, so tracks follow real
people and CenterFace, a real model, finds their faces), one box deleted from one frame, a corrupt
video and an empty one, and a photo in the same folder.

Checked: every face of a tracked person protected in every frame (none uncovered, none found again),
one role and one generated face per track, the deleted box covered from memory and logged so, the
output's frame rate, frame count and audio as the input's, the bad videos rejected with reasons
while the photo finishes, and a render key's change re-rendering without detecting again.
"""

import json
import re
import subprocess

import cv2
import imageio_ffmpeg
import numpy as np
import pandas as pd
import pytest
import yaml

from photoprivacy.artifacts import read_json
from photoprivacy.images import load_rgb
from photoprivacy.video.intake import frame_id
from photoprivacy.video.media import encode, probe
from photoprivacy.video.render import read_decisions

from conftest import (
    MAX_PIXELS,
    REPO,
    SHARED_PHOTOS,
    make_pan_video,
    planned_jobs,
    run_snakemake,
    schema_validator,
    small_config,
)

pytestmark = pytest.mark.workflow

BOXES = REPO / "tests" / "data" / "shared_persons.json"
FPS, SECONDS = 10, 2
# photo -> (output size, crop window (x0, y0, width, height) in photo pixels at the first and last frame)
PANS = {
    "city.jpg": ((640, 448), (0, 100, 560, 392), (200, 150, 480, 336)),
    "coco01.jpg": ((400, 500), (40, 0, 400, 500), (110, 60, 320, 400)),
}
DELETED = ("city_pan", 7)  # the video and frame whose first listed person box is deleted


def pan_video(photo, path, audio, size, start, end, n_frames):
    """A pan with zoom over ``photo``: crop windows moved linearly from ``start`` to ``end``, each resized
    to ``size``; returns per frame the window (x0, y0, width, height) in photo pixels."""
    rgb = load_rgb(photo, MAX_PIXELS)
    windows = [tuple(a + (b - a) * n / (n_frames - 1) for a, b in zip(start, end, strict=True))
               for n in range(n_frames)]
    frames = [cv2.resize(rgb[round(y):round(y + h), round(x):round(x + w)], size, interpolation=cv2.INTER_AREA)
              for x, y, w, h in windows]
    encode(frames, path, FPS, audio_from=audio)
    return windows


def moved_boxes(boxes, window, size):
    """Person boxes (x0, y0, x1, y1) of the photo as they appear in a frame, clipped; tiny remains dropped."""
    x, y, w, h = window
    sx, sy = size[0] / w, size[1] / h
    out = []
    for x0, y0, x1, y1 in boxes:
        box = [max(0.0, (x0 - x) * sx), max(0.0, (y0 - y) * sy),
               min(size[0], (x1 - x) * sx), min(size[1], (y1 - y) * sy)]
        if box[2] - box[0] >= 8 and box[3] - box[1] >= 8:
            out.append(box)
    return out


def video_project(workdir):
    """The project's photos folder, annotations and config."""
    photos = workdir / "photos"
    photos.mkdir()
    audio = workdir / "tone.mp4"  # the audio the pans copy (encode copies the audio streams of a video)
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-f", "lavfi", "-i", "color=size=16x16",
                    "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000", "-t", str(SECONDS),
                    "-c:v", "libx264", "-c:a", "aac", str(audio)], check=True)
    coco = json.loads(BOXES.read_text())
    names = {image["id"]: image["file_name"] for image in coco["images"]}
    photo_boxes = {name: [] for name in names.values()}
    for a in coco["annotations"]:
        x, y, w, h = a["bbox"]
        photo_boxes[names[a["image_id"]]].append([x, y, x + w, y + h])
    out = {"categories": coco["categories"], "images": [], "annotations": []}
    n_frames = FPS * SECONDS
    for photo, (size, start, end) in PANS.items():
        video_id = f"{photo.split('.')[0]}_pan"
        windows = pan_video(SHARED_PHOTOS / photo, photos / f"{video_id}.mp4", audio, size, start, end, n_frames)
        for number, window in enumerate(windows):
            boxes = moved_boxes(photo_boxes[photo], window, size)
            if (video_id, number) == DELETED:
                boxes = boxes[1:]
            image_id = len(out["images"]) + 1
            out["images"].append({"id": image_id, "file_name": f"{video_id}.mp4#{number:06d}"})
            out["annotations"] += [{"id": len(out["annotations"]) + 1, "image_id": image_id, "category_id": 1,
                                    "bbox": [b[0], b[1], b[2] - b[0], b[3] - b[1]], "score": 1.0} for b in boxes]
    # A photo with its boxes, a corrupt video and an empty one in the same folder.
    (photos / "coco02.jpg").write_bytes((SHARED_PHOTOS / "coco02.jpg").read_bytes())
    out["images"].append({"id": len(out["images"]) + 1, "file_name": "coco02.jpg"})
    photo_annotations = [a for a in coco["annotations"] if names[a["image_id"]] == "coco02.jpg"]
    out["annotations"] += [{**a, "id": len(out["annotations"]) + 1 + i, "image_id": len(out["images"])}
                           for i, a in enumerate(photo_annotations)]
    (photos / "broken.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"not a video" * 50)
    (photos / "empty.mov").write_bytes(b"")
    (workdir / "persons.json").write_text(json.dumps(out))
    config = small_config(photos)
    config["execution"]["shards"] = 2
    config["detect"].update(method="annotations", annotations=str(workdir / "persons.json"))
    config["evaluate"].update(recaption=False, redetect_persons=False)
    config["figures"]["panels"] = 0
    config["video"].update(scenario1_every=2, identity_every=5)
    (workdir / "config.yaml").write_text(yaml.safe_dump(config))
    return photos


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    if not SHARED_PHOTOS.is_dir():
        pytest.skip(f"no shared photos in {SHARED_PHOTOS}")
    workdir = tmp_path_factory.mktemp("video")
    video_project(workdir)
    run_snakemake(workdir, "--configfile", "config.yaml")
    return workdir


def test_every_face_of_a_tracked_person_is_protected_in_every_frame(project):
    rows = pd.read_csv(project / "results" / "metrics" / "videos.csv")
    assert sorted(zip(rows["video_id"], rows["scenario"], strict=True)) == [
        (video, scenario) for video in ("city_pan", "coco01_pan") for scenario in ("scenario1", "scenario2")]
    assert (rows["frames"] == FPS * SECONDS).all()
    assert (rows["faces_uncovered"] == 0).all() and (rows["faces_redetected"] == 0).all(), rows.to_string()
    assert (rows["leak_frames"] == 0).all() and (rows["flicker_leak_rate"] == 0).all()
    # The measure saw faces: CenterFace finds tracked persons' faces in both videos, dlib checks some.
    for video in ("city_pan", "coco01_pan"):
        assert (rows[rows["video_id"] == video]["faces_tracked"] >= FPS * SECONDS).all(), rows.to_string()
    assert rows["faces_checked"].sum() > 0
    # dlib keeps no more identities than erasing the faces to a flat patch does.
    assert (rows["identity_kept"] <= rows["erased_kept"]).all(), rows.to_string()
    # What it costs: coco01's faces (60 px and more) keep at least 4 blocks across where obfuscated, as on
    # photos (render.strength); city's faces are under 40 px, where the fixed floor sizes take over.
    coco01 = rows[rows["video_id"] == "coco01_pan"]
    assert (coco01["blocks_across_min"] >= 4).all() and (coco01["blocks_across_median"] <= 8).all(), rows.to_string()


def test_a_track_keeps_one_role_and_one_generated_face(project):
    rows = pd.read_csv(project / "results" / "metrics" / "videos.csv")
    assert (rows["decision_changes"] == 0).all()
    tracks_schema, decisions_schema = schema_validator("tracks.schema.json"), schema_validator("decisions.schema.json")
    for video in ("city_pan", "coco01_pan"):
        tracks = read_json(project / "results" / "tracks" / f"{video}.json")
        tracks_schema.validate(tracks)
        majors = {t["track"]: t["fake"] for t in tracks["tracks"] if t["role"] == "major"}
        with np.load(project / "results" / "fakes" / "videos" / f"{video}.npz") as arrays:
            fakes = arrays["faces"]
        # One generated face per major track with a face, each a different face.
        with_face = [fake for fake in majors.values() if fake is not None]
        assert sorted(with_face) == list(range(len(fakes))) and len(fakes) >= 1
        assert len({fake.tobytes() for fake in fakes}) == len(fakes)
        logs = read_decisions(project / "results" / "final" / "default" / "scenario2" / f"{video}.decisions.jsonl")
        roles, faces = {}, {}
        for log in logs:
            decisions_schema.validate(log)
            for region in log["regions"]:
                if "track" in region:
                    roles.setdefault(region["track"], set()).add(region["why"]["role"])
                if region["kind"] == "face":
                    faces.setdefault(region["track"], set()).add(region["method"])
                    assert majors[region["track"]] is not None
        assert all(len(found) == 1 for found in roles.values()), roles
        assert set(faces) <= set(majors) and all(methods == {"replace:diffusion"} for methods in faces.values())


def test_a_person_missed_in_one_frame_is_covered_from_memory(project):
    video, number = DELETED
    tracks = read_json(project / "results" / "tracks" / f"{video}.json")
    index = tracks["frames"].index(frame_id(video, number))
    remembered = [t for t in tracks["tracks"] if t["first"] <= index <= t["last"]
                  and t["points"][index - t["first"]]["source"] == "memory"
                  and t["points"][index - t["first"] - 1]["source"] == "detected"
                  and t["points"][index - t["first"] + 1]["source"] == "detected"]
    assert len(remembered) == 1
    track = remembered[0]
    box = track["points"][index - track["first"]]["box_xyxy"]
    for scenario in ("scenario1", "scenario2"):
        log = read_decisions(project / "results" / "final" / "default" / scenario / f"{video}.decisions.jsonl")[index]
        (entry,) = [t for t in log["tracks"] if t["track"] == track["track"]]
        assert entry["source"] == "memory" and entry["box_xyxy"] == box
        original = load_rgb(project / "results" / "frames" / video / f"{frame_id(video, number)}.png", MAX_PIXELS)
        protected = load_rgb(project / "results" / "final" / "default" / scenario / f"{video}.frames" /
                             f"{frame_id(video, number)}.png", MAX_PIXELS)
        x0, y0, x1, y1 = (round(v) for v in box)
        centre = (slice((y0 + y1) // 2 - 2, (y0 + y1) // 2 + 2), slice((x0 + x1) // 2 - 2, (x0 + x1) // 2 + 2))
        assert not np.array_equal(original[centre], protected[centre]), scenario  # the person's pixels changed
    regions = read_decisions(project / "results" / "final" / "default" / "scenario2" / f"{video}.decisions.jsonl")
    assert any(r.get("track") == track["track"] and r["source"] == "memory" for r in regions[index]["regions"])


def test_the_protected_video_keeps_rate_length_and_audio(project):
    for video in ("city_pan", "coco01_pan"):
        source = probe(project / "photos" / f"{video}.mp4")
        for scenario in ("scenario1", "scenario2"):
            out = probe(project / "results" / "final" / "default" / scenario / f"{video}.mp4")
            assert out.frame_rate == source.frame_rate and out.frames == source.frames == FPS * SECONDS
            assert out.upright_size == source.upright_size
            assert len(out.audio) == 1 and out.audio[0]["duration_s"] == pytest.approx(
                source.audio[0]["duration_s"], abs=0.03)


def test_bad_videos_are_rejected_with_reasons_and_the_photo_finishes(project):
    lines = (project / "results" / "summary" / "rejected.tsv").read_text().splitlines()
    rows = {line.split("\t")[0]: line.split("\t") for line in lines[1:]}
    assert rows["empty"][2:] == ["video_intake", "empty file (0 bytes)"]
    assert rows["broken"][2] == "video_intake" and rows["broken"][3].startswith("cannot decode")
    assert set(rows) == {"empty", "broken"}
    for scenario in ("scenario1", "scenario2"):
        decisions = project / "results" / "final" / "default" / scenario / "coco02.decisions.json"
        assert read_json(decisions)["status"] == "ok"
    assert not list((project / "results" / "final" / "default" / "scenario1").glob("broken*"))


def test_a_render_key_rerenders_and_reencodes_without_detecting_again(project):
    config = yaml.safe_load((project / "config.yaml").read_text())
    config["render"]["minor"]["block_size"] = 12
    (project / "changed.yaml").write_text(yaml.safe_dump(config))
    jobs = planned_jobs(project, "--configfile", "changed.yaml")
    stages = {re.sub(r"_(city|coco0[12]|[0-9]).*$", "", name) for name in jobs}
    assert {"render_video_scenario2", "encode_video_scenario2", "evaluate_video_scenario2"} <= stages, jobs
    assert not stages & {"frames", "images", "detect", "persons", "faces", "tracks", "fakes_video", "caption",
                         "render_video_scenario1", "encode_video_scenario1"}, jobs
    assert jobs["render_video_scenario2_city_pan"] == jobs["encode_video_scenario2_coco01_pan"] == 1


def test_with_keep_frames_false_the_protected_frames_are_deleted_once_encoded_and_evaluated(project):
    """Last: it deletes one video's frames (video.keep_frames: false marks them temporary)."""
    config = yaml.safe_load((project / "config.yaml").read_text())
    config["video"]["keep_frames"] = False
    (project / "temporary.yaml").write_text(yaml.safe_dump(config))
    final = project / "results" / "final" / "default" / "scenario2"
    run_snakemake(project, "--configfile", "temporary.yaml", "--forcerun", "render_video_scenario2_coco01_pan",
                  "results/metrics/videos/default/scenario2/coco01_pan.json")
    assert not (final / "coco01_pan.frames").exists() and (final / "city_pan.frames").is_dir()
    assert probe(final / "coco01_pan.mp4").frames == FPS * SECONDS


def test_a_folder_of_videos_only_plans_videos_and_their_metrics(tmp_path):
    photos = tmp_path / "photos"
    photos.mkdir()
    make_pan_video(SHARED_PHOTOS / "coco01.jpg", photos / "clip.mov", seconds=1, fps=5)
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(small_config(photos)))
    jobs = planned_jobs(tmp_path, "--configfile", "config.yaml")
    assert {"frames_clip", "tracks_clip", "fakes_video_clip", "video_metrics", "summarize_rejected"} <= set(jobs)
    assert jobs["encode_video_scenario1_clip"] == jobs["encode_video_scenario2_clip"] == 1
    assert not {"metrics", "figure_sweep", "figure_panel"} & set(jobs), jobs
