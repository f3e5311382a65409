"""The video library without Snakemake: intake records and frame shards, the tracks record (roles,
faces from memory, smoothing), per-frame records for the renderers, keyframe masks, and the
per-frame leak measure, with exact expected values."""

import os

import numpy as np
import pytest

from photoprivacy.artifacts import write_json, write_npz
from photoprivacy.images import load_rgb
from photoprivacy.masks.components import COMPONENTS
from photoprivacy.video import intake
from photoprivacy.video.evaluate import measure_frame
from photoprivacy.video.media import read_frames
from photoprivacy.video.render import KeyframeMasks, decision_changes, frame_tracks, strength_changes
from photoprivacy.video.stage import frame_records, tracks_record, with_track_sources

from conftest import MAX_PIXELS, SHARED_PHOTOS, make_pan_video, schema_validator

MAJORS = {"fraction": 0.4, "min_persons": 3, "max_persons": 10}
PARAMS = {"min_iou": 0.3, "memory": 2, "face_smoothing": 0, "majors": MAJORS}


@pytest.fixture(scope="module")
def pan(tmp_path_factory):
    if not SHARED_PHOTOS.is_dir():
        pytest.skip(f"no shared photos in {SHARED_PHOTOS}")
    return make_pan_video(SHARED_PHOTOS / "coco01.jpg", tmp_path_factory.mktemp("pan") / "pan.mp4", seconds=1,
                          fps=10)


def test_intake_record_describes_the_video_and_is_read_back_while_the_file_is_unchanged(pan, tmp_path, monkeypatch):
    record_path = tmp_path / "pan.json"
    record = intake.intake_record("pan", pan, record_path, MAX_PIXELS)
    assert record["status"] == "ok" and record["image_id"] == "pan"
    video = record["video"]
    assert (video["frames"], video["frame_rate"], video["width"], video["height"], video["rotation"]) == (
        10, "10", 160, 120, 0)
    assert [(a["codec"], a["sample_rate"]) for a in video["audio"]] == [("aac", 48000)]

    def no_probe(path):
        raise AssertionError("probed again")

    monkeypatch.setattr(intake, "probe", no_probe)
    assert intake.intake_record("pan", pan, record_path, MAX_PIXELS) == record  # read back, not probed
    os.utime(pan, ns=(record["mtime_ns"] + 10**9, record["mtime_ns"] + 10**9))  # the file changed
    with pytest.raises(AssertionError, match="probed again"):
        intake.intake_record("pan", pan, record_path, MAX_PIXELS)


def test_videos_that_cannot_be_read_get_rejected_records(pan, tmp_path):
    empty, corrupt = tmp_path / "empty.mp4", tmp_path / "corrupt.mp4"
    empty.write_bytes(b"")
    corrupt.write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"nonsense" * 40)
    assert intake.intake_record("empty", empty, tmp_path / "e.json", MAX_PIXELS)["reason"] == "empty file (0 bytes)"
    record = intake.intake_record("corrupt", corrupt, tmp_path / "c.json", MAX_PIXELS)
    assert record["status"] == "rejected" and record["reason"].startswith("cannot decode")
    assert (record["video"], intake.frame_ids("corrupt", record, 1)) == (None, [])
    large = intake.intake_record("pan", pan, tmp_path / "p.json", 160 * 120 - 1)
    assert large["reason"] == "decompression bomb: 160x120 = 19200 pixels per frame exceeds max_image_pixels 19199"


@pytest.mark.parametrize(("rate", "fps", "step"), [
    ("30", None, 1), ("30", 10, 3), ("30000/1001", 10, 3), ("25", 10, 2), ("10", 25, 1), ("60", 7.5, 8)])
def test_frame_step_reads_about_the_configured_rate(rate, fps, step):
    assert intake.frame_step({"video": {"frame_rate": rate}}, fps) == step


def test_frames_are_named_by_their_source_number_and_keyframes_get_shards_of_their_own():
    record = {"status": "ok", "video": {"frames": 10, "frame_rate": "30"}}
    ids = intake.frame_ids("clip.v2", record, 1)
    assert ids[:2] == ["clip.v2.frame000000", "clip.v2.frame000001"] and len(ids) == 10
    assert intake.frame_ids("a", record, 4) == ["a.frame000000", "a.frame000004", "a.frame000008"]
    assert intake.output_rate(record, 4) == 7.5
    assert intake.frame_relpath("clips/clip.v2.mp4", ids[1]) == "clips/clip.v2.mp4#000001"
    shards = intake.video_shards("a", [f"f{i}" for i in range(10)], 3, 2)
    assert shards == {"a.key000": ["f0", "f3"], "a.key001": ["f6", "f9"],
                      "a.000": ["f1", "f2"], "a.001": ["f4", "f5"], "a.002": ["f7", "f8"]}
    assert intake.is_keyframe_shard("a", "a.key001") and not intake.is_keyframe_shard("a", "a.001")
    assert list(intake.video_shards("a", ["f0", "f1"], 1, 200)) == ["a.key000"]


def test_extract_frames_writes_the_frames_read_and_refuses_a_changed_count(pan, tmp_path):
    ids = ["pan.frame000000", "pan.frame000003", "pan.frame000006", "pan.frame000009"]
    assert intake.extract_frames(pan, tmp_path / "frames", ids, 3, MAX_PIXELS) == 4
    for (number, frame), frame_id in zip(read_frames(pan, 3), ids, strict=True):
        assert frame_id.endswith(f"{number:06d}")
        assert np.array_equal(load_rgb(tmp_path / "frames" / f"{frame_id}.png", MAX_PIXELS), frame)
    with pytest.raises(intake.VideoRejected, match="gave 4 frames where its intake counted 3"):
        intake.extract_frames(pan, tmp_path / "again", ids[:3], 3, MAX_PIXELS)


def persons_record(boxes, scores):
    return {"image_id": "f", "status": "ok", "reason": None, "image": {"width": 200, "height": 100},
            "persons": [{"person": i, "detection": i, "box_xyxy": box, "final_score": score} for i, (box, score)
                        in enumerate(zip(boxes, scores, strict=True))]}


def faces_record(faces):
    """faces: (person, box) found in major boxes; none elsewhere."""
    return {"faces": [{"face": i, "person": p, "box_xyxy": box} for i, (p, box) in enumerate(faces)],
            "other_faces": []}


def two_walkers():
    """Person A walks right (10 px a frame, face found in frames 0, 1, 3 and 4), B stands still and is
    missed by the detector in frame 2; A ranks higher in every frame it is found."""
    persons, faces = [], []
    for frame in range(5):
        a = [10 + 10 * frame, 10, 50 + 10 * frame, 90]
        b = [140, 10, 180, 90]
        boxes, scores = ([a, b], [3.0, 2.0]) if frame != 2 else ([a], [3.0])
        persons.append(persons_record(boxes, scores))
        a_face = [(0, [20 + 10 * frame, 12, 40 + 10 * frame + frame, 32 + frame])] if frame != 2 else []
        faces.append(faces_record(a_face))
    return persons, faces


def test_tracks_keep_one_role_and_remember_a_missed_person_and_face():
    persons, faces = two_walkers()
    frames = [f"v.frame{i:06d}" for i in range(5)]
    record = tracks_record("v", frames, persons, faces, PARAMS)
    schema_validator("tracks.schema.json").validate(record)
    a, b = record["tracks"]
    assert (a["role"], a["importance"], a["fake"], b["role"], b["importance"], b["fake"]) == (
        "major", 3.0, 0, "minor", 2.0, None)  # 2 tracks (< 3): one major
    assert record["faces"] == [{"face": 0, "track": 0}]
    assert [p["source"] for p in b["points"]] == ["detected", "detected", "memory", "detected", "detected"]
    assert b["points"][2]["box_xyxy"] == [140, 10, 180, 90] and b["points"][2]["person"] is None
    # A's face in frame 2: halfway between frames 1 and 3, from memory.
    assert [p["face_source"] for p in a["points"]] == ["detected", "detected", "memory", "detected", "detected"]
    assert a["points"][2]["face_xyxy"] == [40.0, 12.0, 62.0, 34.0]
    assert a["points"][1]["face_xyxy"] == [30, 12, 51, 33] and b["points"][0]["face_xyxy"] is None
    assert record["summary"] == {"frames": 5, "tracks": 2, "majors": 1, "memory_points": 1}


def test_a_face_found_on_one_side_only_moves_with_its_person_and_sizes_are_smoothed():
    persons, faces = two_walkers()
    for frame in (3, 4):
        faces[frame] = faces_record([])
    record = tracks_record("v", [f"f{i}" for i in range(5)], persons, faces, {**PARAMS, "face_smoothing": 1})
    a = record["tracks"][0]
    # Frames 2 and 3 are within 2 frames of the face of frame 1 only: it moves 10 px a frame with A's box.
    assert [p["face_source"] for p in a["points"]] == ["detected", "detected", "memory", "memory", None]
    # Sizes medianed over the faces found within 1 frame (frames 0 and 1: 20 x 20 and 21 x 21).
    assert a["points"][0]["face_xyxy"] == [19.75, 11.75, 40.25, 32.25]
    assert a["points"][2]["face_xyxy"] == [40.0, 12.0, 61.0, 33.0]  # frame 1's face, 10 px on (21 x 21)
    assert a["points"][3]["face_xyxy"] == [50.0, 12.0, 71.0, 33.0]  # 20 px on; no face found within 1 frame


def test_frame_records_give_the_renderers_one_person_per_track_and_annotate_sources():
    persons, faces = two_walkers()
    record = tracks_record("v", [f"v.f{i}" for i in range(5)], persons, faces, PARAMS)
    frame_persons, frame_faces = frame_records(record, 2)
    assert [(p["person"], p["role"], p["source"], p["final_score"]) for p in frame_persons["persons"]] == [
        (0, "major", "detected", 3.0), (1, "minor", "memory", 2.0)]
    assert frame_faces["faces"] == [{"face": 0, "person": 0, "box_xyxy": [40.0, 12.0, 62.0, 34.0],
                                     "source": "memory"}]
    assert frame_faces["other_faces"] == [] and frame_persons["image_id"] == "v.f2"
    regions = [{"kind": "person", "person": 1}, {"kind": "face", "person": 0}, {"kind": "mask"}]
    assert with_track_sources(regions, frame_persons, frame_faces) == [
        {"kind": "person", "person": 1, "track": 1, "source": "memory"},
        {"kind": "face", "person": 0, "track": 0, "source": "memory"}, {"kind": "mask"}]
    assert [(t["track"], t["source"], t["face_source"]) for t in frame_tracks(frame_persons, frame_faces)] == [
        (0, "detected", "memory"), (1, "memory", None)]
    logs = [{"tracks": [{"track": 0, "role": "major"}]}, {"tracks": []}, {"tracks": [{"track": 0, "role": "minor"}]}]
    assert decision_changes(logs) == 1 and decision_changes(logs[:2]) == 0
    zones = [[("person", 0, 9, None), ("face", 0, 4, None)], [("person", 0, 9, None), ("person", 1, 5, None)],
             [("person", 0, 10, None)], [("person", 1, 5, None), ("person", 0, 10, None)]]
    logs = [{"strength_zones": [dict(zip(("kind", "person", "block", "sigma"), z, strict=True)) for z in frame]}
            for frame in zones]
    assert strength_changes(logs) == 1  # track 0: 9, 9, 10, 10; track 1: 5, 5


def test_keyframe_masks_move_related_objects_with_their_person_and_unite_the_maps(tmp_path):
    persons, faces = two_walkers()
    record = tracks_record("v", [f"v.f{i}" for i in range(5)], persons, faces, PARAMS)
    for key in (0, 3):  # keyframes (every 3) see A's bag beside A, and a scene map at another place each
        masks = {name: np.zeros((100, 200), bool) for name in COMPONENTS}
        masks["scene"][50:60, 5 * key:5 * key + 5] = True
        masks["objects"][:] = masks["persons"][:] = True  # a keyframe's own; others get them moved or from tracks
        write_npz(tmp_path / f"{key}.npz", **masks)
        write_json(tmp_path / f"{key}.json", {"components": {
            name: {"pixels": 0, "source": {"key": key}, "note": None} for name in COMPONENTS}})
        a = persons[key]["persons"][0]["box_xyxy"]
        write_json(tmp_path / f"{key}.detect.json", {"detections": [
            {"index": 0, "box_xyxy": a}, {"index": 1, "box_xyxy": [140, 10, 180, 90]},
            {"index": 2, "box_xyxy": [a[2], 40, a[2] + 10, 50]}, {"index": 3, "box_xyxy": [0, 0, 5, 5]}]})
        write_json(tmp_path / f"{key}.relations.json", {"edges": [
            {"person": 0, "object": 2, "predicate": "nearest"}, {"person": 1, "object": 3, "predicate": "overlaps"}]})
    files = {"npz": str(tmp_path / "{image_id}.npz"), "json": str(tmp_path / "{image_id}.json"),
             "detect_json": str(tmp_path / "{image_id}.detect.json"),
             "relations_json": str(tmp_path / "{image_id}.relations.json")}
    record["frames"] = ["0", "1", "2", "3", "4"]  # the files above are named by frame
    keyframes = KeyframeMasks(record, files, 3, ["nearest", "action_object"])
    assert [keyframes.keyframes_of(i) for i in range(5)] == [[0], [0, 3], [0, 3], [3], [3]]
    masks, masks_record = keyframes.masks_of(2, (100, 200))
    # A is at x 30-70 in frame 2: its bag, seen at x 50-60 (frame 0) and 80-90 (frame 3), is at 70-80.
    assert masks["objects"].sum() == 100 and masks["objects"][40:50, 70:80].all()
    assert masks["scene"].sum() == 100 and masks["scene"][50:60, 0:5].all() and masks["scene"][50:60, 15:20].all()
    assert masks["persons"].sum() == 40 * 80 * 2 and masks["persons"][10:90, 30:70].all()
    scene = masks_record["components"]["scene"]
    assert scene["source"] == {"keyframes": [{"key": 0}, {"key": 3}]} and scene["pixels"] == 100
    assert scene["note"].startswith("carried from keyframes 0 and 3: scenario 1's models ran on every 3-th frame")
    own = keyframes.masks_of(3, (100, 200))
    assert own[0]["objects"].all() and own[1]["components"]["scene"] == {"pixels": 50, "source": {"key": 3},
                                                                         "note": None}


class FixedFaces:
    """A face detector that finds the given boxes in the original (all-zero pixels) and others in the
    protected frame."""

    def __init__(self, original, protected):
        self.original, self.protected = original, protected

    def __call__(self, rgb):
        return [(box, 0.9) for box in (self.original if not rgb.any() else self.protected)]


def test_measure_frame_counts_uncovered_and_redetected_faces_of_tracked_persons():
    from photoprivacy.evaluate.stage import Evaluators

    original, protected = np.zeros((100, 200, 3), np.uint8), np.full((100, 200, 3), 7, np.uint8)
    obfuscated = np.zeros((100, 200), bool)
    obfuscated[0:50, 0:100] = True
    decisions = {"tracks": [{"box_xyxy": [0, 0, 150, 100], "source": "memory", "face_source": None}],
                 "strength_zones": [{"box_xyxy": [0, 0, 150, 100], "block": 4, "sigma": None},
                                    {"box_xyxy": [50, 0, 100, 50], "block": 5, "sigma": None}]}
    faces_before = [[10, 10, 30, 30], [60, 10, 80, 30], [120, 60, 140, 80], [170, 10, 190, 30]]
    faces_after = [[11, 11, 31, 31]]  # the first face, found again where it was obfuscated
    evaluators = Evaluators(faces=FixedFaces(faces_before, faces_after))
    settings = {"evaluate": {"face_threshold": 0.5, "iou": 0.5}}
    row = measure_frame(original, protected, decisions, (obfuscated, obfuscated), settings, evaluators, False)
    # Three faces in the track's box (the fourth is untracked): one uncovered (120, 60), two obfuscated,
    # one of them found again.
    assert {key: row[key] for key in ("faces_tracked", "faces_untracked", "faces_uncovered", "faces_obfuscated",
                                      "faces_redetected", "leak", "memory_tracks")} == {
        "faces_tracked": 3, "faces_untracked": 1, "faces_uncovered": 1, "faces_obfuscated": 2,
        "faces_redetected": 1, "leak": True, "memory_tracks": 1}
    # The two obfuscated faces, 20 px wide, under 4 px and 5 px blocks (the zone painted last wins).
    assert (row["blocks"], row["blocks_across_min"], row["blocks_across_median"]) == ([5.0, 4.0], 4.0, 4.5)
