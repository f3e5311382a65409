"""Obfuscation strength for the size of what it hides, with exact values."""

import numpy as np
import pytest

from photoprivacy.geometry import boxes_mask
from photoprivacy.render import strength
from photoprivacy.render.masking import feather, obfuscate_masked
from photoprivacy.render.scenario1 import render_scenario1
from photoprivacy.render.zones import OTHER, Zone, plan_zones, zone_labels
from photoprivacy.seeds import derived_seed

RELATIVE = {"mode": "relative", "blocks_per_face": 6, "blur_per_face": 6, "face_per_person": 0.5}
ORIGINAL = dict(RELATIVE, mode="original")


def test_face_widths_of_boxes_and_estimates():
    assert strength.estimated_face_width((10, 20, 110, 320), 0.3) == pytest.approx(30.0)  # shorter side 100
    assert strength.face_box_width((0, 0, 80, 60)) == 80  # a face's width, across it


@pytest.mark.parametrize(("face_width", "expected"), [(30, 9), (54, 9), (55, 10), (186, 31), (300, 50)])
def test_block_size_is_a_share_of_the_face_with_the_fixed_size_as_floor(face_width, expected):
    assert strength.block_size(face_width, 9, RELATIVE) == expected
    assert strength.block_size(face_width, 9, ORIGINAL) == 9


def test_blur_sigma_and_kernel():
    assert strength.blur_sigma(60, 15.0, RELATIVE) == 15.0
    assert strength.blur_sigma(240, 15.0, RELATIVE) == 40.0
    assert strength.blur_sigma(240, 15.0, ORIGINAL) == 15.0
    assert strength.blur_kernel(15.0, 45, 15.0) == 45
    assert strength.blur_kernel(40.0, 45, 15.0) == 121  # 45 x 40 / 15 = 120 -> odd
    assert strength.blur_kernel(20.0, 45, 15.0) == 61  # 60 -> 61


def test_random_mosaic_patches_are_the_block_rounded_up_to_odd():
    # The floor is the configured range's middle patch: half-size 4, 9 px.
    assert strength.mosaic_half_sizes(24, (2, 7), RELATIVE) == (4, 4)
    assert strength.mosaic_half_sizes(54, (2, 7), RELATIVE) == (4, 4)  # 54 / 6 = 9: 6 patches across
    assert strength.mosaic_half_sizes(60, (2, 7), RELATIVE) == (5, 5)  # block 10 -> 11 px: 5.5 across
    assert strength.mosaic_half_sizes(120, (2, 7), RELATIVE) == (10, 10)  # block 20 -> 21 px
    assert strength.mosaic_half_sizes(300, (2, 7), RELATIVE) == (25, 25)  # block 50 -> 51 px
    assert strength.mosaic_half_sizes(300, (2, 7), ORIGINAL) == (2, 7)


def test_zones_are_planned_per_person_and_face_in_painting_order():
    persons = [(0, [0, 0, 100, 300]), (1, [90, 50, 150, 250]), (2, [200, 0, 310, 300])]
    faces = [(0, [30, 10, 60, 45]),  # person 0's own face: centred in its head region (top 100 px)
             (1, [40, 11, 61, 45]),  # the same face cut by person 1's box edge: dropped for the wider one
             (2, [230, 200, 270, 240])]  # low in person 2's box: not its own face, still a face zone
    zones = plan_zones(persons, faces, 320, 300, 0.3)
    assert zones[0] == OTHER
    assert zones[1:] == [  # each step narrowest first: where they overlap, the coarser strength holds
        Zone("person", 1, (90, 50, 150, 250), pytest.approx(18.0), "person_box"),  # 0.3 x 60
        Zone("person", 0, (0, 0, 100, 300), 30, "face"),
        Zone("person", 2, (200, 0, 310, 300), pytest.approx(33.0), "person_box"),  # 0.3 x 110
        Zone("head", 1, (90, 50, 150, 110), pytest.approx(18.0), "person_box"),
        Zone("head", 2, (200, 0, 310, 110), pytest.approx(33.0), "person_box"),
        Zone("face", 0, (30, 10, 60, 45), 30, "face"),
        Zone("face", 2, (230, 200, 270, 240), 40, "face"),
    ]
    labels = zone_labels(zones, 300, 320)
    assert labels[20, 40] == 6 and labels[150, 95] == 2 and labels[150, 120] == 1 and labels[0, 310] == 0
    assert labels[60, 95] == 4  # person 1's head, over person 0's body


def people_records(persons, faces):
    """A persons record and its faces record (every face a minor's: scenario 1 ignores roles)."""
    return ({"persons": [{"person": i, "box_xyxy": box, "role": "minor"} for i, box in enumerate(persons)]},
            {"faces": [], "other_faces": [{"person": p, "box_xyxy": box, "score": 0.9} for p, box in faces]})


def render_params(method, mode="relative"):
    return {"components": ["persons", "objects"], "method": method, "clean_kernel": 1, "feather_sigma": 0.0,
            "mosaic_half_sizes": [2, 7], "block_size": 9, "blur_kernel": 45, "blur_sigma": 15.0, "noise_sigma": 25.0,
            "resize": None, "seed": 0, "strength": dict(RELATIVE, face_per_person=0.3, mode=mode)}


def scenario1(image, persons_mask, objects_mask, people, params):
    masks = {"persons": persons_mask, "objects": objects_mask}
    record = {"components": {name: {"source": {}, "note": None} for name in masks}}
    return render_scenario1(image, masks, record, people, params, "x")


def test_two_persons_whose_masks_touch_each_get_their_own_block_size():
    # One connected mask over both persons: sized as one component, both got 15 px blocks (0.5 x 180 / 6).
    image = np.random.default_rng(0).integers(0, 256, (200, 300, 3), dtype=np.uint8)
    boxes = [[10, 10, 110, 190], [110, 20, 290, 190]]
    mask = boxes_mask(boxes, 200, 300)
    people = people_records(boxes, [(0, [30, 15, 102, 87]), (1, [150, 25, 240, 115])])
    out, _, zones, _ = scenario1(image, mask, np.zeros_like(mask), people, render_params("pixelate"))
    assert [(z["kind"], z["person"], z["face_width"], z["block"], z["blocks_across"]) for z in zones] == [
        ("person", 0, 72, 12, 6.0), ("person", 1, 90, 15, 6.0), ("face", 0, 72, 12, 6.0), ("face", 1, 90, 15, 6.0)]
    body = out[106:118, 10:22].reshape(-1, 3)  # a 12 px block of person 0, aligned to its box (10 + 8 x 12)
    assert (body == body[0]).all() and not (out[106:119, 10:22].reshape(-1, 3) == body[0]).all()
    body = out[125:140, 110:125].reshape(-1, 3)  # a 15 px block of person 1 (its box starts at y 20)
    assert (body == body[0]).all()
    np.testing.assert_array_equal(out[~mask], image[~mask])


def test_mask_parts_away_from_persons_keep_the_fixed_sizes():
    image = np.random.default_rng(2).integers(0, 256, (200, 300, 3), dtype=np.uint8)
    objects = np.zeros((200, 300), bool)
    objects[10:190, 100:290] = True  # a large object: merged or not, it sets no face's block
    people = people_records([[0, 0, 60, 150]], [])
    out, _, zones, _ = scenario1(image, np.zeros_like(objects), objects, people, render_params("pixelate"))
    assert [(z["kind"], z["block"], z["face_width"], z["blocks_across"]) for z in zones] == [("other", 9, None, None)]
    assert zones[0]["box_xyxy"] == [100, 10, 290, 190]


@pytest.mark.parametrize("method", ["random_mosaic", "pixelate", "blur"])
def test_original_mode_is_one_pass_of_the_fixed_sizes_and_logs_the_zones(method):
    image = np.random.default_rng(1).integers(0, 256, (160, 160, 3), dtype=np.uint8)
    boxes = [[10, 10, 150, 150]]
    mask = boxes_mask(boxes, 160, 160)
    alpha = feather(mask, 0.0)
    people = people_records(boxes, [(0, [50, 20, 110, 80])])
    out, _, zones, _ = scenario1(image, mask, np.zeros_like(mask), people, render_params(method, "original"))
    fixed = {"random_mosaic": (2, 7), "pixelate": 9, "blur": (45, 15.0)}[method]
    seed = derived_seed(0, "x", "scenario1")
    np.testing.assert_array_equal(out, obfuscate_masked(image, alpha, method, seed, fixed)[0])
    assert [(z["kind"], z["face_width"]) for z in zones] == [("person", 60), ("face", 60)]
    block, sigma = zones[0]["block"], zones[0]["sigma"]
    assert (block or sigma) == {"pixelate": 9, "blur": 15.0}.get(method, block) and zones[0]["blocks_across"] == round(
        60 / (block or sigma), 3)
