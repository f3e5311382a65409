"""Privacy of a protected video, frame by frame, with the photos' independent models.

In each frame CenterFace lists the faces of the original. A face whose centre lies in a
track's box there belongs to a protected person (in both scenarios every tracked person
is protected). It is a leak when it is left uncovered (its centre outside every region
the renderer changed) or, where it was obfuscated, CenterFace finds it again in the
protected frame (IoU >= evaluate.iou). A frame with a leak is a flicker leak: the
flicker-leak rate is their share of the frames. Faces outside every track (a person the
detector never found nearby) are counted apart, as untracked. Next to them, what hiding costs:
the blocks (or blur sigmas) across each obfuscated face, from the decision log's strength zones,
and SSIM outside the changed regions. dlib's identity check (with
its flat-erase control) runs on every ``identity_every``-th frame, as on photos. Decision
changes count how often a track's role changes along the video (the render keeps one per
track, so this should be 0), strength changes how often the block or sigma hiding a track's body
changes from frame to frame (a face found on and off, or a box that grows, changes it).
"""

import math

import numpy as np

from ..evaluate import metrics
from ..evaluate.identity import SAME_PERSON_DISTANCE, identity_check
from .render import decision_changes, strength_changes

FRAME_COLUMNS = ("video_id", "variant", "scenario", "frame", "image_id", "faces_tracked", "faces_untracked",
                 "faces_uncovered", "faces_obfuscated", "faces_redetected", "leak", "memory_tracks",
                 "blocks_across_min", "blocks_across_median", "faces_checked", "identity_kept", "erased_kept",
                 "ssim_outside")


def in_any(box, boxes):
    x, y = metrics.centre_pixel(box)
    return any(b[0] <= x < b[2] and b[1] <= y < b[3] for b in boxes)


def measure_frame(original, protected, decisions, areas, params, evaluators, check_identity):
    """A frame's row (FRAME_COLUMNS without the ids). ``areas``: (obfuscated, protected) masks."""
    settings = params["evaluate"]
    obfuscated, protected_area = areas
    original, obfuscated = metrics.match_size(original, obfuscated, protected.shape)
    _, protected_area = metrics.match_size(original, protected_area, protected.shape)
    threshold = settings["face_threshold"]
    track_boxes = [track["box_xyxy"] for track in decisions["tracks"]]
    faces = [box for box, score in evaluators.faces(original) if score is None or score > threshold]
    tracked = [box for box in faces if in_any(box, track_boxes)]
    uncovered = [box for box in tracked if not metrics.centre_in_mask(box, protected_area)]
    hidden = [box for box in tracked if metrics.centre_in_mask(box, obfuscated)]
    found_again = metrics.faces_in_mask(evaluators.faces(protected), obfuscated, threshold)
    redetected = metrics.redetected(hidden, found_again, settings["iou"])
    # What hiding costs: blocks (or blur sigmas) across each obfuscated face, from the log's strength zones.
    blocks = [value for value in (metrics.blocks_across(box, decisions["strength_zones"]) for box in hidden)
              if not math.isnan(value)]
    row = {"faces_tracked": len(tracked), "faces_untracked": len(faces) - len(tracked),
           "faces_uncovered": len(uncovered), "faces_obfuscated": len(hidden), "faces_redetected": redetected,
           "leak": bool(uncovered) or redetected > 0,
           "memory_tracks": sum(t["source"] == "memory" or t["face_source"] == "memory" for t in decisions["tracks"]),
           "blocks": blocks, "blocks_across_min": min(blocks, default=math.nan),
           "blocks_across_median": float(np.median(blocks)) if blocks else math.nan,
           "faces_checked": None, "identity_kept": None, "erased_kept": None,
           "ssim_outside": metrics.ssim_outside(original, protected, protected_area)}
    if check_identity and evaluators.identity is not None:
        checked = [box for box in tracked if metrics.centre_in_mask(box, protected_area)]
        identity = identity_check(evaluators.identity, original, protected, checked)
        row.update(faces_checked=identity["faces_checked"], identity_kept=int(identity["identity_kept"]),
                   erased_kept=int(sum(d < SAME_PERSON_DISTANCE for d in identity["erased_distances"])))
    return row


def video_summary(video_id, params, tracks, logs, rows, encoded):
    """The video's row of results/metrics/videos.csv."""
    frames = len(rows)
    leaks = sum(row["leak"] for row in rows)
    checked = [row for row in rows if row["faces_checked"] is not None]
    blocks = [value for row in rows for value in row["blocks"]]
    return {
        "video_id": video_id, "variant": params["variant"], "scenario": params["scenario"],
        "frames": frames, "tracks": tracks["summary"]["tracks"], "majors": tracks["summary"]["majors"],
        "memory_points": tracks["summary"]["memory_points"], "decision_changes": decision_changes(logs),
        "strength_changes": strength_changes(logs),
        "leak_frames": leaks, "flicker_leak_rate": leaks / frames if frames else math.nan,
        "faces_tracked": sum(row["faces_tracked"] for row in rows),
        "faces_untracked": sum(row["faces_untracked"] for row in rows),
        "faces_uncovered": sum(row["faces_uncovered"] for row in rows),
        "faces_redetected": sum(row["faces_redetected"] for row in rows),
        "blocks_across_median": float(np.median(blocks)) if blocks else math.nan,
        "blocks_across_min": min(blocks, default=math.nan),
        "identity_frames": len(checked), "faces_checked": sum(row["faces_checked"] for row in checked),
        "identity_kept": sum(row["identity_kept"] for row in checked),
        "erased_kept": sum(row["erased_kept"] for row in checked),
        "ssim_outside": float(np.nanmean([row["ssim_outside"] for row in rows])) if rows else math.nan,
        "output_frames": encoded["frames"], "output_fps": encoded["fps"], "output_audio_s": encoded["audio_s"],
    }
