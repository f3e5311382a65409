"""Boxes: centres, areas, overlaps and the pixels a box covers, by hand."""

import math

import numpy as np
import pytest

from photoprivacy.geometry import (
    box_area,
    box_centre,
    box_intersection,
    box_iou,
    box_to_region,
    boxes_mask,
    centre_distance,
    grow_box,
    same_face,
)


def test_centres_areas_and_overlaps():
    a, b = [0, 0, 4, 2], [2, 1, 6, 5]
    assert box_centre(a) == (2.0, 1.0) and box_centre(b) == (4.0, 3.0)
    assert centre_distance(a, b) == pytest.approx(math.hypot(2, 2))
    assert box_area(a) == 8 and box_area(b) == 16 and box_area([3, 3, 1, 1]) == 0
    assert box_intersection(a, b) == 2  # [2, 1, 4, 2]
    assert box_iou(a, b) == pytest.approx(2 / (8 + 16 - 2))
    assert box_intersection(a, [5, 5, 6, 6]) == 0 and box_iou(a, [5, 5, 6, 6]) == 0.0
    assert grow_box([1, 2, 3, 4], 2) == [-1, 0, 5, 6]


def test_regions_grow_to_whole_pixels_and_masks_follow():
    assert box_to_region([0.5, 1.2, 2.1, 2.9], width=10, height=10) == (0, 1, 3, 3)
    assert box_to_region([-5, -5, 3, 20], width=10, height=8) == (0, 0, 3, 8)
    assert box_to_region([11, 0, 12, 5], width=10, height=8) is None
    assert box_to_region([0, 0, float("nan"), 2], width=10, height=8) is None
    expected = np.zeros((4, 5), bool)
    expected[1:3, 0:3] = True
    np.testing.assert_array_equal(boxes_mask([[0.5, 1.2, 2.1, 2.9], None, [20, 20, 30, 30]], 4, 5), expected)


def test_same_face_is_an_overlap_of_the_smaller_box():
    assert same_face([0, 0, 10, 10], [0, 0, 10, 10])
    assert same_face([0, 0, 20, 20], [10, 0, 20, 20])  # a face cut by a box edge: half of it, all inside
    assert same_face([0, 0, 20, 20], [15, 0, 25, 20])  # 5 x 20 shared: half the smaller box
    assert not same_face([0, 0, 20, 20], [16, 0, 26, 20])  # 4 x 20 shared: under half
    assert not same_face([0, 0, 10, 10], [20, 20, 30, 30])
