"""Person tracks in a video: the boxes of consecutive frames linked into one track per person.

Each frame's boxes are matched to the tracks still alive by the Hungarian assignment
(``scipy.optimize.linear_sum_assignment``) on 1 - IoU with where each track is expected:
its last box moved on at the speed of its last two boxes (a pan or a walk keeps its
overlap). A pair counts only at IoU >= ``min_iou``; a box left over starts a new track.

Memory: a track that finds no box stays alive for ``memory`` frames. Found again within
them, the frames in between get its box interpolated linearly; the ``memory`` frames
before its first box and after its last get those boxes held. Such points have source
``memory``: a person missed by the detector in a frame or two is still protected there,
and the decision log can say so. A track not found for more than ``memory`` frames ends.

A track keeps one role for its whole length (``track_roles``): majors are the tracks of
highest mean importance, counted as the persons stage counts them in a photo.
"""

from dataclasses import dataclass, field

import numpy as np

from ..geometry import box_iou
from ..persons.scoring import major_count, select_majors

DETECTED, MEMORY = "detected", "memory"


@dataclass(frozen=True)
class TrackPoint:
    """A track in one frame: its box, found there (``detection``: the box's index in the
    frame's list) or from memory (``detection`` None)."""

    frame: int
    box: tuple
    source: str
    detection: int | None = None


@dataclass
class Track:
    """One person over consecutive frames: ``points[i]`` is frame ``points[0].frame + i``."""

    track_id: int
    points: list = field(default_factory=list)

    @property
    def first(self):
        return self.points[0].frame

    @property
    def last(self):
        return self.points[-1].frame

    def detected(self):
        return [point for point in self.points if point.source == DETECTED]

    def at(self, frame):
        """The track's point at ``frame``, or None outside its frames."""
        if self.first <= frame <= self.last:
            return self.points[frame - self.first]
        return None


def expected_box(found, frame):
    """Where a track is expected in ``frame``, from its detected points ``found`` (at least one):
    its last box, moved on by the last two boxes' shift per frame."""
    last = np.asarray(found[-1].box, float)
    if len(found) < 2:
        return last
    shift = (last - np.asarray(found[-2].box, float)) / (found[-1].frame - found[-2].frame)
    return last + shift * (frame - found[-1].frame)


def assign(expected, boxes, min_iou):
    """Pairs (track position, box index) of the Hungarian assignment on 1 - IoU, IoU >= ``min_iou``."""
    from scipy.optimize import linear_sum_assignment

    if not expected or not boxes:
        return []
    iou = np.array([[box_iou(track_box, box) for box in boxes] for track_box in expected])
    rows, cols = linear_sum_assignment(1.0 - iou)
    return [(int(r), int(c)) for r, c in zip(rows, cols, strict=True) if iou[r, c] >= min_iou]


def _interpolated(start, end):
    """The memory points strictly between two detected points of a track."""
    a, b = np.asarray(start.box, float), np.asarray(end.box, float)
    span = end.frame - start.frame
    return [TrackPoint(frame, tuple(float(v) for v in a + (b - a) * (frame - start.frame) / span), MEMORY)
            for frame in range(start.frame + 1, end.frame)]


def _filled(track_id, found, memory, n_frames):
    """A track from its detected points: gaps interpolated, ``memory`` frames held at both ends."""
    points = [TrackPoint(frame, found[0].box, MEMORY) for frame in range(max(0, found[0].frame - memory),
                                                                        found[0].frame)]
    for before, after in zip(found, found[1:], strict=False):
        points += [before, *_interpolated(before, after)]
    points.append(found[-1])
    points += [TrackPoint(frame, found[-1].box, MEMORY)
               for frame in range(found[-1].frame + 1, min(n_frames, found[-1].frame + memory + 1))]
    return Track(track_id, points)


def link_tracks(frames, min_iou=0.3, memory=2):
    """Tracks of the person boxes of ``frames`` (in frame order, each a list of [x0, y0, x1, y1]),
    numbered by their first box (frame, then its index in the frame's list)."""
    if min_iou <= 0 or min_iou > 1:
        raise ValueError(f"min_iou must be in (0, 1], got {min_iou}")
    if memory < 0:
        raise ValueError(f"memory must be at least 0 frames, got {memory}")
    alive, ended = [], []  # detected points of each track
    for frame, boxes in enumerate(frames):
        ended += [found for found in alive if frame - found[-1].frame > memory + 1]
        alive = [found for found in alive if frame - found[-1].frame <= memory + 1]
        expected = [expected_box(found, frame) for found in alive]
        pairs = assign(expected, [list(box) for box in boxes], min_iou)
        matched = {box for _, box in pairs}
        for track, box in pairs:
            alive[track].append(TrackPoint(frame, tuple(float(v) for v in boxes[box]), DETECTED, box))
        alive += [[TrackPoint(frame, tuple(float(v) for v in box), DETECTED, index)]
                  for index, box in enumerate(boxes) if index not in matched]
    found_tracks = sorted(ended + alive, key=lambda found: (found[0].frame, found[0].detection))
    return [_filled(number, found, memory, len(frames)) for number, found in enumerate(found_tracks)]


def track_roles(tracks, importance, majors):
    """``{track_id: "major" | "minor"}``: a track keeps one role for its whole length.

    ``importance(point)`` is a detected point's importance (the persons stage's final score
    in its frame); a track's is the mean over its detected points. The number of majors
    follows ``majors`` (persons.majors) applied to the number of tracks, as the persons
    stage applies it to the persons of a photo; ties go to the earlier track.
    """
    means = [float(np.mean([importance(point) for point in track.detected()])) for track in tracks]
    n_majors = major_count(len(tracks), majors["fraction"], majors["min_persons"], majors["max_persons"])
    chosen = set(select_majors(means, n_majors, "corrected"))
    return {track.track_id: "major" if i in chosen else "minor" for i, track in enumerate(tracks)}
