"""Person importance: attention and distance scores, rank fusion, major/minor, hand-computed."""

import math

import numpy as np
import pytest

from photoprivacy.persons.scoring import (
    attention_score,
    dense_ranks,
    distance_to_centre,
    major_count,
    rank_persons,
    select_majors,
)
from photoprivacy.persons.stage import score_persons

# The original method's settings, which the hand-computed expectations below assume
# (config.yaml's persons defaults are the same).
CUTOFF = 0.5
WEIGHTS = (0.7, 0.3)
MAJORS = {"fraction": 0.4, "min_persons": 3, "max_persons": 10}


def majors(attention, distances, rule):
    _, _, finals = rank_persons(attention, distances, rule, WEIGHTS)
    return select_majors(finals, major_count(len(distances), **MAJORS), rule)


def test_attention_score_global_and_column_scaling():
    attention_map = [[0, 10], [1, 11], [2, 30]]
    # Global: (x - 0) / 30 -> only 30 is above 0.5.
    assert attention_score(attention_map, "global", CUTOFF) == 1
    # Column-wise: [0, .5, 1] and [0, .05, 1] -> one cell above 0.5 per column.
    assert attention_score(attention_map, "column", CUTOFF) == 2
    assert attention_score([[0, 1], [2, 3]], "global", CUTOFF) == 2  # 2/3 and 1


@pytest.mark.parametrize("attention_map", [np.full((3, 4), 0.2), np.zeros((0, 0)), [[np.nan, 1.0]]])
def test_degenerate_maps_score_zero(attention_map):
    assert attention_score(attention_map, "global", CUTOFF) == 0
    assert attention_score(attention_map, "column", CUTOFF) == 0


def test_constant_column_scales_to_zero_like_minmaxscaler():
    assert attention_score([[5, 0], [5, 1]], "column", CUTOFF) == 1  # column 0 constant -> 0, column 1 -> [0, 1]


def test_distance_to_centre():
    assert distance_to_centre([0, 0, 10, 10], width=100, height=50) == pytest.approx(math.sqrt(45**2 + 20**2))
    assert distance_to_centre([40, 15, 60, 35], width=100, height=50) == 0


def test_dense_ranks_share_ties():
    assert dense_ranks([10, 5, 5, 1]) == [3, 2, 2, 1]
    assert dense_ranks([]) == []


@pytest.mark.parametrize(
    ("n", "expected"),
    [(0, 0), (1, 1), (2, 1), (3, 1), (4, 1), (5, 2), (8, 3), (10, 4), (11, 1), (100, 1)],
)
def test_major_count(n, expected):
    assert major_count(n, **MAJORS) == expected


def test_major_count_limits_are_configurable():
    assert major_count(20, fraction=0.25, min_persons=2, max_persons=30) == 5
    assert major_count(2, fraction=0.5, min_persons=2, max_persons=10) == 1


@pytest.mark.parametrize("rule", ["corrected", "notebook"])
def test_no_person_and_one_person(rule):
    assert majors([], [], rule) == []
    assert majors([4], [120.0], rule) == [0]


def test_two_persons_attention_tie_is_broken_by_distance_only_when_corrected():
    # Attention ranks [1, 1]; closeness ranks [1, 2] (person 1 is closer).
    assert majors([5, 5], [100.0, 20.0], "corrected") == [1]  # finals 1.0, 1.3
    assert majors([5, 5], [100.0, 20.0], "notebook") == [1]  # finals 1.0, 1.0: the notebook takes the later


def test_three_persons():
    # Attention ranks [1, 3, 2]; closeness ranks [2, 1, 3]; finals 1.3, 2.4, 2.3; int(0.4 * 3) = 1 major.
    assert majors([2, 9, 4], [30.0, 200.0, 10.0], "corrected") == [1]
    assert majors([2, 9, 4], [30.0, 200.0, 10.0], "notebook") == [1]


def test_five_persons_with_attention_ties():
    attention = [3, 3, 3, 3, 9]  # ranks [1, 1, 1, 1, 2]
    distances = [50.0, 5.0, 40.0, 1.0, 500.0]  # closeness ranks [2, 4, 3, 5, 1]
    # Corrected finals: 1.3, 1.9, 1.6, 2.2, 1.7 -> two majors: persons 3 and 1.
    assert majors(attention, distances, "corrected") == [1, 3]
    # Notebook finals: 1, 1, 1, 1, 2 -> person 4, then the latest of the four tied at the cut-off.
    assert majors(attention, distances, "notebook") == [3, 4]


def test_ten_persons_at_equal_distances():
    attention = list(range(10))
    distances = [100.0] * 10  # everyone shares closeness rank 1
    assert majors(attention, distances, "corrected") == [6, 7, 8, 9]
    assert majors(attention, distances, "notebook") == [6, 7, 8, 9]


def test_eleven_persons_get_one_major():
    attention = [2] * 11
    distances = [100.0 - 5 * i for i in range(11)]  # the last person is the closest
    assert majors(attention, distances, "corrected") == [10]
    assert majors(attention, distances, "notebook") == [10]  # all tie: the last detection


@pytest.mark.parametrize(
    ("finals", "n_majors", "corrected", "notebook"),
    [
        # One tie at the cut-off: the places above it are not ties and stay.
        ([3.0, 2.0, 2.0, 1.0], 2, [0, 1], [0, 2]),
        # Several tie groups, the cut-off inside the lower one.
        ([2.0, 3.0, 2.0, 3.0, 2.0, 1.0], 3, [0, 1, 3], [1, 3, 4]),
        # Ties above the cut-off are all taken whatever the rule.
        ([5.0, 5.0, 1.0, 4.0, 4.0, 4.0, 0.5, 0.5], 3, [0, 1, 3], [0, 1, 5]),
        # Float noise does not split a tie (0.7 * 3 + 0.3 * 1 vs 0.7 * 1 + 0.3 * 3 + 0.8).
        ([0.7 * 3 + 0.3 * 1, 0.7 * 1 + 0.3 * 3 + 0.8], 1, [0], [1]),
    ],
)
def test_ties_at_the_cut_off(finals, n_majors, corrected, notebook):
    assert select_majors(finals, n_majors, "corrected") == corrected
    assert select_majors(finals, n_majors, "notebook") == notebook


def test_select_majors_rejects_an_unknown_rule():
    with pytest.raises(ValueError, match="unknown scoring rule 'nb'"):
        select_majors([1.0], 1, "nb")


def test_weights_are_configurable():
    # Distance alone decides with weights (0, 1).
    _, _, finals = rank_persons([9, 1], [300.0, 10.0], "corrected", weights=(0.0, 1.0))
    assert select_majors(finals, 1, "corrected") == [1]


def test_without_attention_scoring_falls_back_to_distance():
    attention_ranks, distance_ranks, finals = rank_persons(None, [300.0, 10.0, 50.0], "corrected", WEIGHTS)
    assert attention_ranks is None and distance_ranks == [1, 3, 2] and finals == [1.0, 3.0, 2.0]


PARAMS = {"rule": "corrected", "attention_scaling": "global", "attention_cutoff": CUTOFF,
          "weights": dict(zip(("attention", "distance"), WEIGHTS, strict=True)), "majors": MAJORS}


def detection_record(detections, available=True):
    return {"image_id": "x", "status": "ok", "reason": None, "image": {"width": 100, "height": 100},
            "attention": {"available": available, "grid": [2, 2] if available else None},
            "detections": [dict(d, index=i) for i, d in enumerate(detections)]}


def test_score_persons_keeps_only_people_and_records_why():
    detections = [
        {"label_id": 1, "label": "person", "score": 0.99, "box_xyxy": [40, 40, 60, 60], "query": 3},
        {"label_id": 44, "label": "bottle", "score": 0.95, "box_xyxy": [0, 0, 5, 5], "query": 4},
        {"label_id": 1, "label": "person", "score": 0.97, "box_xyxy": [0, 0, 20, 20], "query": 7},
    ]
    attention = np.array([[[0, 1], [1, 1]], [[0, 0], [0, 1]], [[0, 0], [0, 1]]], np.float32)
    record = score_persons(detection_record(detections), attention, PARAMS)
    assert [p["detection"] for p in record["persons"]] == [0, 2]
    assert [p["attention_score"] for p in record["persons"]] == [3, 1]
    assert [p["role"] for p in record["persons"]] == ["major", "minor"]
    assert record["scoring"]["rule"] == "corrected" and record["scoring"]["n_majors"] == 1


def test_score_persons_with_annotation_boxes_says_distance_only():
    detections = [
        {"label_id": 1, "label": "person", "score": 1.0, "box_xyxy": [0, 0, 10, 10], "query": None},
        {"label_id": 1, "label": "person", "score": 1.0, "box_xyxy": [45, 45, 55, 55], "query": None},
    ]
    record = score_persons(detection_record(detections, available=False), np.zeros((2, 0, 0)), PARAMS)
    assert record["scoring"]["rule"] == "distance_only" and "distance" in record["scoring"]["note"]
    assert [p["role"] for p in record["persons"]] == ["minor", "major"]
    assert record["persons"][0]["attention_score"] is None


def test_rejected_image_passes_its_reason_on():
    detection = {"image_id": "x", "status": "rejected", "reason": "empty file (0 bytes)", "image": None,
                 "attention": {"available": False, "grid": None}, "detections": []}
    record = score_persons(detection, np.zeros((0, 0, 0)), PARAMS)
    assert record["status"] == "rejected" and record["persons"] == [] and record["reason"] == "empty file (0 bytes)"
