"""Rendering a video's frames, both scenarios, with the photo renderers and the video's tracks.

Each frame gets the persons and faces records its tracks give it (``stage.frame_records``):
one role per track, a major track's one generated face, boxes from memory where the
detector missed a person or a face, so a frame the detector missed is protected as its
neighbours are. Scenario 1's mosaic offsets are seeded by the video, not the frame, so
the pattern holds still where the picture does.

Scenario 1's caption and scene models may have run on keyframes only
(``video.scenario1_every``): a frame between two keyframes takes the objects related to a
person at either, moved with the person's track, the union of their word and scene maps
(what either saw), and every frame its persons component from the tracks at that frame.

Each frame's decision log is a line of ``<video>.decisions.jsonl`` (the photo log, with
``tracks``: each track there, its role, and whether its box and face were detected or
remembered; scenario 2's regions name their track and source too).
"""

import functools
import json
from pathlib import Path

import numpy as np

from ..artifacts import atomic_path, read_json, write_bytes_atomic
from ..geometry import boxes_mask
from ..images import load_rgb
from ..masks.components import COMPONENTS
from ..masks.stage import read_masks
from ..progress import tracked
from ..render.output import decision_log, png_bytes
from ..render.scenario1 import render_scenario1
from ..render.scenario2 import render_scenario2
from .stage import frame_records, with_track_sources

CARRIED_NOTE = ("carried from keyframes {}: scenario 1's models ran on every {}-th frame (related objects moved "
                "with their person's track, word and scene maps the keyframes' union)")


def frame_tracks(persons, faces):
    """The ``tracks`` field of a frame's decision log."""
    face_of = {f["person"]: f for f in [*faces["faces"], *faces["other_faces"]]}
    return [{"track": p["track"], "role": p["role"], "source": p["source"], "box_xyxy": p["box_xyxy"],
             "face_xyxy": face_of[p["track"]]["box_xyxy"] if p["track"] in face_of else None,
             "face_source": face_of[p["track"]]["source"] if p["track"] in face_of else None}
            for p in persons["persons"]]


class KeyframeMasks:
    """Scenario 1's masks of each frame of a video from its keyframes' (frames 0, every, 2 * every, ...):
    ``masks_of(index, shape)`` gives (component masks, masks record) of frame ``index``. ``files``
    holds the per-image patterns of a keyframe's masks (npz, json), detections (detect_json) and
    relations (relations_json); ``predicates`` are masks.object_predicates.

    Between keyframes, each object related to a person (a relations edge of ``predicates``) moves
    with its person's track: its box at the keyframe, shifted as the track's box moved since. The
    word and scene maps are the union of the two keyframes' (what either saw); persons come from
    the tracks at the frame itself."""

    def __init__(self, tracks, files, every, predicates):
        self.tracks, self.files, self.every, self.predicates = tracks, files, every, set(predicates)
        self.n_frames = len(tracks["frames"])

    @functools.lru_cache(maxsize=4)  # noqa: B019 (one object per job)
    def _keyframe(self, index):
        frame = self.tracks["frames"][index]
        path = {key: pattern.format(image_id=frame) for key, pattern in self.files.items()}
        return read_masks(path["npz"]), read_json(path["json"]), self._related_objects(index, path)

    def _related_objects(self, index, path):
        """(track or None, object box) of each object related to a person at keyframe ``index``."""
        detections = {d["index"]: d for d in read_json(path["detect_json"]).get("detections", [])}
        edges = [e for e in read_json(path["relations_json"]).get("edges", []) if e["predicate"] in self.predicates]
        track_of = {}
        for track in self.tracks["tracks"]:
            point = track["points"][index - track["first"]] if track["first"] <= index <= track["last"] else None
            if point is not None and point["detection"] is not None:
                track_of[point["detection"]] = track
        chosen = {(e["object"], e["person"]) for e in edges if e["object"] in detections}
        return [(track_of.get(person), detections[obj]["box_xyxy"]) for obj, person in sorted(chosen)]

    def keyframes_of(self, index):
        """The keyframes frame ``index`` takes its masks from: itself, or those around it."""
        before = index - index % self.every
        after = before + self.every
        return [before] if before == index or after >= self.n_frames else [before, after]

    def _moved_objects(self, key, index, objects, shape):
        """The related objects of keyframe ``key`` as they are at frame ``index``: each moved as its
        person's track moved (an object whose person has no track there stays where it was)."""
        boxes = []
        for track, box in objects:
            shift = (0.0, 0.0)
            if track is not None and track["first"] <= index <= track["last"]:
                then = track["points"][key - track["first"]]["box_xyxy"]
                now = track["points"][index - track["first"]]["box_xyxy"]
                shift = ((now[0] + now[2] - then[0] - then[2]) / 2, (now[1] + now[3] - then[1] - then[3]) / 2)
            boxes.append([box[0] + shift[0], box[1] + shift[1], box[2] + shift[0], box[3] + shift[1]])
        return boxes_mask(boxes, *shape)

    def masks_of(self, index, shape):
        keys = self.keyframes_of(index)
        loaded = {key: self._keyframe(key) for key in keys}
        masks = {name: np.zeros(shape, bool) for name in COMPONENTS}
        for key_masks, _, _ in loaded.values():
            for name in COMPONENTS:
                if key_masks[name].shape == shape:
                    masks[name] |= key_masks[name]
        if keys != [index]:  # objects where their persons are now, not where the keyframes saw them
            masks["objects"] = np.zeros(shape, bool)
            for key, (_, _, objects) in loaded.items():
                masks["objects"] |= self._moved_objects(key, index, objects, shape)
        persons, _ = frame_records(self.tracks, index)
        masks["persons"] = boxes_mask([p["box_xyxy"] for p in persons["persons"]], *shape)
        return masks, {"components": self._components(index, keys, loaded, masks, len(persons["persons"]))}

    def _components(self, index, keys, loaded, masks, n_persons):
        """The masks record's components of frame ``index``: pixels, sources and notes."""
        records = [record for _, record, _ in loaded.values() if record["components"]]
        components = {}
        for name in COMPONENTS:
            note = "; ".join(n for n in (r["components"][name]["note"] for r in records) if n) or None
            if keys != [index] and name != "persons":
                carried = CARRIED_NOTE.format(" and ".join(self.tracks["frames"][k] for k in keys), self.every)
                note = f"{carried}{'; ' + note if note else ''}"
            sources = [r["components"][name]["source"] for r in records]
            source = {"boxes": n_persons, "tracks": True} if name == "persons" else (
                sources[0] if len(sources) == 1 else {"keyframes": sources})
            components[name] = {"pixels": int(masks[name].sum()), "source": source, "note": note}
        return components


def render_video(scenario, tracks, frame_paths, params, out_dir, decisions_path, fakes=None, keyframe_masks=None):
    """Render every frame of a video (``tracks``: its tracks record; ``frame_paths``: the frames
    read, in order) into ``out_dir``/<frame id>.png, and its decision logs, one JSON line per
    frame, into ``decisions_path``. Scenario 2 needs ``fakes`` (the video's generated faces),
    scenario 1 ``keyframe_masks`` (a ``KeyframeMasks``). Returns counts."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    counts = {"frames": 0, "regions": 0, "memory_regions": 0}
    with atomic_path(decisions_path) as tmp, open(tmp, "w", encoding="utf-8") as lines:
        for index, (frame_id, path) in enumerate(tracked(list(zip(tracks["frames"], frame_paths, strict=True)))):
            image = load_rgb(path, params["max_image_pixels"])
            persons, faces = frame_records(tracks, index)
            if scenario == "scenario2":
                out, regions, zones, warnings = render_scenario2(image, persons, faces, fakes, params)
            else:
                masks, record = keyframe_masks.masks_of(index, image.shape[:2])
                out, regions, zones, warnings = render_scenario1(image, masks, record, (persons, faces), params,
                                                                 tracks["image_id"])
            regions = with_track_sources(regions, persons, faces)
            write_bytes_atomic(out_dir / f"{frame_id}.png", png_bytes(out))
            log = decision_log(scenario, frame_id, "ok", None, params, regions, zones, warnings)
            log["tracks"] = frame_tracks(persons, faces)
            lines.write(json.dumps(log, ensure_ascii=False) + "\n")
            counts["frames"] += 1
            counts["regions"] += len(regions)
            counts["memory_regions"] += sum(r.get("source") == "memory" for r in regions)
    return counts


def read_decisions(path):
    """The per-frame decision logs of a video, in frame order."""
    with open(path, encoding="utf-8") as lines:
        return [json.loads(line) for line in lines if line.strip()]


def _changes(logs, values_of):
    """How often a track's value changes from one frame it has one in to the next; ``values_of(log)``
    gives a frame's {track: value}."""
    last, changes = {}, 0
    for log in logs:
        for track, value in values_of(log).items():
            changes += track in last and last[track] != value
            last[track] = value
    return changes


def decision_changes(logs):
    """How often a track's role changes from one frame it is in to the next one it is in."""
    return _changes(logs, lambda log: {track["track"]: track["role"] for track in log.get("tracks", [])})


def strength_changes(logs):
    """How often the block side or blur sigma hiding a track's body changes from one frame to the next
    it is hidden in (its ``person`` strength zone): a steady strength does not pulse."""
    return _changes(logs, lambda log: {zone["person"]: (zone["block"], zone["sigma"])
                                       for zone in log["strength_zones"] if zone["kind"] == "person"})

