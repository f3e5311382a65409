"""The tracks stage of one video: persons linked across its frames, one role and one face each.

From the persons and faces records of the video's frames (the per-image stages ran on
them as on photos), ``tracks_record`` links the person boxes into tracks (``tracks``),
gives each track one role from its mean importance, and follows each track's face:

- in a frame where the faces stage found it (the widest face centred in the track's head
  region), the face is ``detected``;
- where it was missed but found within ``memory`` frames on both sides, its box is
  interpolated; on one side only, that box moves with the person's box (``memory``);
- its size is the median of the sizes found within ``face_smoothing`` frames around, so a
  generated face and the strength of an obfuscation do not pulse with the detector's jitter.

Every major track with a face gets one generated face (``faces``: the fakes stage makes
one per entry, seeded by the video and the entry's number), used in each of its frames.
``frame_records`` gives a frame the persons and faces records the photo renderers read,
built from the tracks: in a video, a person's number is its track's.
"""

import numpy as np

from ..artifacts import provenance
from ..render.zones import own_face
from ..stages import STAGE_VERSIONS
from .tracks import DETECTED, MEMORY, link_tracks, track_roles

SCHEMA_VERSION = 1
WHY_KEYS = ("attention_score", "distance", "attention_rank", "distance_rank")


def tracks_record(video_id, frame_ids, persons_records, faces_records, params):
    """The tracks record of a video (workflow/schemas/tracks.schema.json) from its frames'
    persons and faces records, in frame order."""
    boxes = [[p["box_xyxy"] for p in record["persons"]] if record["status"] == "ok" else []
             for record in persons_records]
    tracks = link_tracks(boxes, params["min_iou"], params["memory"])

    def importance(point):
        return persons_records[point.frame]["persons"][point.detection]["final_score"]

    roles = track_roles(tracks, importance, params["majors"]) if tracks else {}
    entries, generated = [], []
    for track in tracks:
        faces = _track_faces(track, persons_records, faces_records, params)
        role = roles[track.track_id]
        fake = None
        if role == "major" and any(face is not None for face in faces):
            fake = len(generated)
            generated.append({"face": fake, "track": track.track_id})
        entries.append({
            "track": track.track_id, "role": role,
            "importance": round(float(np.mean([importance(p) for p in track.detected()])), 6),
            "fake": fake, "first": track.first, "last": track.last,
            "points": [_point_entry(point, face, persons_records) for point, face in zip(track.points, faces,
                                                                                        strict=True)],
        })
    return {
        "image_id": video_id, "status": "ok", "reason": None,
        "provenance": provenance("tracks", STAGE_VERSIONS["tracks"], params),
        "schema_version": SCHEMA_VERSION, "frames": list(frame_ids), "tracks": entries, "faces": generated,
        "summary": {"frames": len(frame_ids), "tracks": len(entries),
                    "majors": sum(entry["role"] == "major" for entry in entries),
                    "memory_points": sum(p["source"] == MEMORY for e in entries for p in e["points"])},
    }


def _point_entry(point, face, persons_records):
    box, source = face if face is not None else (None, None)
    detection = None if point.detection is None else persons_records[point.frame]["persons"][point.detection]
    return {"frame": point.frame, "box_xyxy": [round(v, 3) for v in point.box], "source": point.source,
            "person": point.detection, "detection": None if detection is None else detection["detection"],
            "face_xyxy": box, "face_source": source}


def _found_faces(track, persons_records, faces_records):
    """{frame: face box} of the frames where the faces stage found the track's own face."""
    found = {}
    for point in track.detected():
        record = faces_records[point.frame]
        image = persons_records[point.frame]["image"]
        boxes = [f["box_xyxy"] for f in [*record["faces"], *record["other_faces"]] if f["person"] == point.detection]
        face = own_face(point.box, boxes, image["width"], image["height"])
        if face is not None:
            found[point.frame] = [float(v) for v in face]
    return found


def _track_faces(track, persons_records, faces_records, params):
    """Per point of ``track``: (face box, detected | memory), or None where it has no face."""
    found = _found_faces(track, persons_records, faces_records)
    frames = sorted(found)
    memory, smoothing = params["memory"], params["face_smoothing"]
    faces = []
    for point in track.points:
        box, source = found.get(point.frame), DETECTED
        if box is None:
            box, source = _remembered(track, point, found, frames, memory), MEMORY
        if box is None:
            faces.append(None)
            continue
        faces.append((_smoothed(box, point.frame, found, frames, smoothing), source))
    return faces


def _remembered(track, point, found, frames, memory):
    """The face box of ``point`` from faces found within ``memory`` frames: interpolated between
    one before and one after, else the nearest one moved with the person's box."""
    before = [f for f in frames if point.frame - memory <= f < point.frame]
    after = [f for f in frames if point.frame < f <= point.frame + memory]
    if before and after:
        a, b = np.asarray(found[before[-1]]), np.asarray(found[after[0]])
        share = (point.frame - before[-1]) / (after[0] - before[-1])
        return [round(float(v), 3) for v in a + (b - a) * share]
    nearest = before[-1] if before else after[0] if after else None
    if nearest is None:
        return None
    then, now = np.asarray(track.at(nearest).box), np.asarray(point.box)
    shift = ((now[0] + now[2]) - (then[0] + then[2])) / 2, now[1] - then[1]  # centre across, top down
    x0, y0, x1, y1 = found[nearest]
    return [round(float(v), 3) for v in (x0 + shift[0], y0 + shift[1], x1 + shift[0], y1 + shift[1])]


def _smoothed(box, frame, found, frames, smoothing):
    """``box`` at the median width and height of the faces found within ``smoothing`` frames."""
    near = [found[f] for f in frames if abs(f - frame) <= smoothing]
    if not near:
        return box
    width = float(np.median([b[2] - b[0] for b in near]))
    height = float(np.median([b[3] - b[1] for b in near]))
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    return [round(v, 3) for v in (cx - width / 2, cy - height / 2, cx + width / 2, cy + height / 2)]


def frame_records(tracks, index):
    """(persons record, faces record) of frame ``index`` built from the tracks record, in the
    shape the photo renderers read: a person per track present there (its number is the
    track's, its role the track's, ``final_score`` the track's importance), a face per track
    face there (``face``: the track's generated face for a major, else in ``other_faces``)."""
    persons, faces, other_faces = [], [], []
    for track in tracks["tracks"]:
        if not track["first"] <= index <= track["last"]:
            continue
        point = track["points"][index - track["first"]]
        persons.append({"person": track["track"], "box_xyxy": point["box_xyxy"], "role": track["role"],
                        **dict.fromkeys(WHY_KEYS), "final_score": track["importance"],
                        "track": track["track"], "source": point["source"]})
        if point["face_xyxy"] is None:
            continue
        face = {"person": track["track"], "box_xyxy": point["face_xyxy"], "source": point["face_source"]}
        if track["fake"] is not None:
            faces.append({"face": track["fake"], **face})
        else:
            other_faces.append(face)
    frame_id = tracks["frames"][index]
    persons_record = {"image_id": frame_id, "status": "ok", "reason": None, "persons": persons}
    return persons_record, {"image_id": frame_id, "faces": faces, "other_faces": other_faces}


def with_track_sources(regions, persons, faces):
    """The decision log's regions of a frame, each person's with its ``track`` and ``source``:
    detected, or memory where its box (a face region: its face box) came from neighbouring frames."""
    by_track = {p["person"]: p for p in persons["persons"]}
    face_source = {f["person"]: f["source"] for f in [*faces["faces"], *faces["other_faces"]]}
    annotated = []
    for region in regions:
        person = by_track.get(region.get("person"))
        if person is not None:
            source = face_source[person["track"]] if region["kind"] == "face" else person["source"]
            region = {**region, "track": person["track"], "source": source}
        annotated.append(region)
    return annotated
