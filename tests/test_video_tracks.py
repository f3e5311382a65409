"""Person tracks across video frames (photoprivacy.video.tracks): Hungarian assignment on IoU with
where each track is expected, memory over missed frames (interpolated boxes), one role per track."""

import pytest

from photoprivacy.video.tracks import DETECTED, MEMORY, link_tracks, track_roles

MAJORS = {"fraction": 0.4, "min_persons": 3, "max_persons": 10}


def moving(x0, step, frames, y0=0, size=50):
    """Boxes of a person ``size`` px wide moving right by ``step`` px per frame."""
    return [[x0 + step * frame, y0, x0 + step * frame + size, y0 + 100] for frame in range(frames)]


def boxes_of(track):
    return [list(point.box) for point in track.points]


def test_two_walkers_make_two_tracks_numbered_by_their_first_box():
    left, right = moving(0, 10, 5), moving(300, -10, 5)
    tracks = link_tracks([[right[f], left[f]] for f in range(5)])
    assert [(t.track_id, t.first, t.last) for t in tracks] == [(0, 0, 4), (1, 0, 4)]
    assert boxes_of(tracks[0]) == right and boxes_of(tracks[1]) == left
    assert [p.detection for p in tracks[0].points] == [0] * 5 and {p.source for p in tracks[1].points} == {DETECTED}


def test_a_missed_frame_is_interpolated_and_marked_memory():
    walker = moving(0, 10, 5)
    frames = [[box] for box in walker]
    frames[2] = []
    (track,) = link_tracks(frames, memory=2)
    assert boxes_of(track) == walker  # (10, 0, 60, 100) and (30, ...) around it: (20, 0, 70, 100)
    point = track.at(2)
    assert (point.source, point.detection, point.box) == (MEMORY, None, (20.0, 0.0, 70.0, 100.0))
    assert [p.frame for p in track.detected()] == [0, 1, 3, 4]


def test_a_gap_longer_than_memory_starts_a_new_track():
    frames = [[box] for box in moving(0, 0, 8)]
    for frame in (3, 4, 5):
        frames[frame] = []
    tracks = link_tracks(frames, memory=2)
    assert [(t.first, t.last, len(t.detected())) for t in tracks] == [(0, 4, 3), (4, 7, 2)]
    # Each held the memory frames at its ends: the first to frame 2 + 2, the second from 6 - 2.
    assert [p.source for p in tracks[0].points] == [DETECTED] * 3 + [MEMORY] * 2
    assert [p.source for p in tracks[1].points] == [MEMORY] * 2 + [DETECTED] * 2
    assert link_tracks(frames, memory=3)[0].detected()[-1].frame == 7  # 3 missed frames: one track


def test_ends_are_held_for_memory_frames_within_the_video():
    frames = [[], [], [], [[5, 5, 55, 105]], [[5, 5, 55, 105]], []]
    (track,) = link_tracks(frames, memory=2)
    assert (track.first, track.last) == (1, 5)
    assert [p.source for p in track.points] == [MEMORY, MEMORY, DETECTED, DETECTED, MEMORY]
    assert track.at(0) is None and track.at(1).box == (5.0, 5.0, 55.0, 105.0)
    assert link_tracks(frames, memory=0)[0].first == 3


def test_the_assignment_maximises_total_overlap_where_greedy_would_not():
    # Frame 1's second box overlaps track 1 most (IoU 2/3), but given to track 0 (IoU 0.54) it lets
    # track 1 keep the first box (IoU 1/3): both tracks go on.
    frames = [[[0, 0, 10, 10], [5, 0, 15, 10]], [[10, 0, 20, 10], [3, 0, 13, 10]]]
    tracks = link_tracks(frames, min_iou=0.3, memory=0)
    assert [[p.detection for p in t.points] for t in tracks] == [[0, 1], [1, 0]]


def test_a_fast_walker_is_followed_at_its_speed_over_a_missed_frame():
    walker = moving(0, 20, 6)  # 20 px per frame, 50 px wide: 40 px apart after a missed frame, IoU 0.11
    frames = [[box] for box in walker]
    frames[3] = []
    (track,) = link_tracks(frames, min_iou=0.3, memory=1)
    assert boxes_of(track) == walker and track.at(3).source == MEMORY
    frames = [[walker[0]], [], [walker[2]]]  # no speed yet: a new track
    assert len(link_tracks(frames, min_iou=0.3, memory=1)) == 2


def test_a_track_keeps_one_role_from_its_mean_importance():
    frames = [[a, b, c] for a, b, c in zip(moving(0, 5, 4), moving(200, 5, 4), moving(400, 5, 4), strict=True)]
    tracks = link_tracks(frames)
    # Per frame the importance changes hands; over the whole track the middle person leads.
    scores = {0: [3, 1, 1, 1], 1: [1, 3, 3, 1], 2: [2, 2, 2, 3]}
    by_box = {tuple(track.points[0].box): track.track_id for track in tracks}
    assert by_box == {(0.0, 0.0, 50.0, 100.0): 0, (200.0, 0.0, 250.0, 100.0): 1, (400.0, 0.0, 450.0, 100.0): 2}
    roles = track_roles(tracks, lambda point: scores[point.detection][point.frame], MAJORS)
    assert roles == {0: "minor", 1: "minor", 2: "major"}  # means 1.5, 2.0, 2.25; 3 tracks: 1 major
    assert track_roles([], lambda point: 0, MAJORS) == {}


@pytest.mark.parametrize(("keyword", "value", "message"), [("min_iou", 0, "min_iou must be in"),
                                                          ("memory", -1, "memory must be at least 0")])
def test_bad_settings_are_named(keyword, value, message):
    with pytest.raises(ValueError, match=message):
        link_tracks([[[0, 0, 1, 1]]], **{keyword: value})
