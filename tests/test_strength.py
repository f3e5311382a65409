"""Obfuscation strength for the size of what it hides, with exact values."""

import numpy as np
import pytest

from photoprivacy.render import strength
from photoprivacy.render.masking import feather, nearest_component_labels, obfuscate_components, obfuscate_masked

RELATIVE = {"mode": "relative", "blocks_per_face": 6, "blur_per_face": 6, "face_per_person": 0.5}
ORIGINAL = dict(RELATIVE, mode="original")


def test_face_widths_of_regions():
    assert strength.region_face_width((10, 20, 110, 320), 0.5) == 50.0  # shorter side 100
    assert strength.face_region_width((0, 0, 80, 60)) == 60


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


def test_random_mosaic_range_moves_up_until_its_smallest_patch_is_a_block():
    assert strength.mosaic_half_sizes(24, (2, 7), RELATIVE) == (2, 7)  # smallest patch 5 px >= ceil(24 / 6) = 4
    assert strength.mosaic_half_sizes(40, (2, 7), RELATIVE) == (3, 8)  # block 7 -> half 3
    assert strength.mosaic_half_sizes(120, (2, 7), RELATIVE) == (10, 15)  # block 20 -> half ceil(19 / 2) = 10
    assert strength.mosaic_half_sizes(300, (2, 7), RELATIVE) == (25, 30)  # block 50 -> 25
    assert strength.mosaic_half_sizes(300, (2, 7), ORIGINAL) == (2, 7)


def test_nearest_component_labels_split_the_band_between_components():
    mask = np.zeros((10, 20), bool)
    mask[2:8, 1:5] = True
    mask[2:8, 14:19] = True
    labels, boxes = nearest_component_labels(mask)
    assert boxes == [(1, 2, 5, 8), (14, 2, 19, 8)]
    assert (labels[:, :9] == 1).all() and (labels[:, 10:] == 2).all()
    assert nearest_component_labels(np.zeros((3, 3), bool))[1] == []


def params(method, mode):
    return {"method": method, "feather_sigma": 0.0, "mosaic_half_sizes": [2, 7], "block_size": 9, "blur_kernel": 45,
            "blur_sigma": 15.0, "noise_sigma": 25.0, "strength": dict(RELATIVE, mode=mode)}


def test_each_component_gets_the_block_size_its_size_needs():
    image = np.random.default_rng(0).integers(0, 256, (200, 300, 3), dtype=np.uint8)
    mask = np.zeros((200, 300), bool)
    mask[10:40, 10:40] = True  # 30 px: a face of at most 15 px -> the 9 px floor
    mask[50:190, 100:280] = True  # 140 px: a face of at most 70 px -> 12 px blocks
    out, used = obfuscate_components(image, mask, mask.astype(np.float32), params("pixelate", "relative"), seed=0)
    assert [c["block_size"] for c in used["components"]] == [9, 12]
    assert [c["component_box"] for c in used["components"]] == [[10, 10, 40, 40], [100, 50, 280, 190]]
    block = out[50:62, 100:112].reshape(-1, 3)
    assert (block == block[0]).all()  # one 12 px block, one colour
    np.testing.assert_array_equal(out[~mask], image[~mask])


@pytest.mark.parametrize("feather_sigma", [0.0, 2.0])
@pytest.mark.parametrize("method", ["random_mosaic", "pixelate", "blur"])
def test_one_small_component_at_the_floor_equals_the_original_pass(method, feather_sigma):
    # Under the floor the relative sizes are the fixed ones; one component is one pass over its box.
    image = np.random.default_rng(1).integers(0, 256, (60, 60, 3), dtype=np.uint8)
    mask = np.zeros((60, 60), bool)
    mask[10:40, 12:42] = True
    alpha = feather(mask, feather_sigma)
    relative_params = dict(params(method, "relative"), feather_sigma=feather_sigma)
    relative, _ = obfuscate_components(image, mask, alpha, relative_params, seed=5)
    strength_argument = {"random_mosaic": (2, 7), "pixelate": 9, "blur": (45, 15.0)}[method]
    original, _ = obfuscate_masked(image, alpha, method, 5, strength_argument)
    np.testing.assert_array_equal(relative, original)
