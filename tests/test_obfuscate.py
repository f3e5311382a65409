"""Region obfuscation and box-to-region conversion, pixel-exact on small arrays."""

import math

import numpy as np
import pytest

from photoprivacy.render.obfuscate import gaussian_blur, mosaic_top_left, obfuscate_region, pixelate_mean
from photoprivacy.render.regions import box_to_region


def ramp(height=8, width=10):
    values = np.arange(height * width * 3, dtype=np.int64).reshape(height, width, 3) % 256
    return values.astype(np.uint8)


@pytest.mark.parametrize(
    ("box", "expected"),
    [
        ([2.2, 3.7, 5.1, 6.0], (2, 3, 6, 6)),  # grows outward to whole pixels
        ([-5, -5, 4, 4], (0, 0, 4, 4)),  # partly outside: clipped
        ([8, 6, 30, 40], (8, 6, 10, 8)),
        ([5, 5, 5, 9], None),  # zero width
        ([20, 20, 30, 30], None),  # wholly outside
        ([6, 6, 2, 2], (2, 2, 6, 6)),  # corners swapped
        ([math.nan, 0, 3, 3], None),
    ],
)
def test_box_to_region(box, expected):
    assert box_to_region(box, width=10, height=8) == expected


def test_mosaic_fills_blocks_with_their_top_left_pixel():
    image = ramp()
    out = mosaic_top_left(image, (1, 2, 8, 7), block=3)
    for top in (2, 5):
        for left in (1, 4, 7):
            cell = out[top : min(top + 3, 7), left : min(left + 3, 8)]
            assert (cell == image[top, left]).all()
    outside = np.ones(image.shape[:2], bool)
    outside[2:7, 1:8] = False
    np.testing.assert_array_equal(out[outside], image[outside])
    np.testing.assert_array_equal(image, ramp())  # the input is not modified


def test_pixelate_takes_the_rounded_block_mean():
    image = np.zeros((4, 4, 3), np.uint8)
    image[0, 0] = (10, 20, 30)
    image[0, 1] = (11, 20, 30)
    out = pixelate_mean(image, (0, 0, 4, 4), block=2)
    # Block (0:2, 0:2): red 10, 11, 0, 0 -> 5.25 -> 5; green 20, 20, 0, 0 -> 10; blue -> 15.
    assert tuple(out[1, 1]) == (5, 10, 15)
    assert (out[2:, :] == 0).all()


def test_blur_changes_only_the_region_and_smooths_it():
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, size=(40, 40, 3), dtype=np.uint8)
    out = gaussian_blur(image, (10, 10, 30, 30), sigma=3)
    mask = np.zeros((40, 40), bool)
    mask[10:30, 10:30] = True
    np.testing.assert_array_equal(out[~mask], image[~mask])
    assert out[mask].astype(float).std() < image[mask].astype(float).std() / 3
    assert abs(out[mask].astype(float).mean() - image[mask].astype(float).mean()) < 5


def test_blur_of_a_constant_image_is_exact():
    image = np.full((20, 20, 3), 77, np.uint8)
    np.testing.assert_array_equal(gaussian_blur(image, (0, 0, 20, 20), sigma=15), image)


def test_obfuscate_region_by_name_reports_parameters():
    image = ramp()
    _, params = obfuscate_region(image, (0, 0, 4, 4), "mosaic", block=2)
    assert params == {"block_size": 2}
    _, params = obfuscate_region(image, (0, 0, 4, 4), "blur", sigma=2.5)
    assert params == {"sigma": 2.5}
    with pytest.raises(ValueError, match="unknown region method 'swirl'"):
        obfuscate_region(image, (0, 0, 4, 4), "swirl")
