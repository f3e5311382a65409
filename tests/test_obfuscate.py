"""Region obfuscation and box-to-region conversion, pixel-exact on small arrays."""

import math

import cv2
import numpy as np
import pytest

from photoprivacy.geometry import box_to_region
from photoprivacy.render import obfuscate
from photoprivacy.render.methods import REGION_METHODS
from photoprivacy.render.obfuscate import (
    gaussian_blur,
    gaussian_noise,
    mosaic_top_left,
    pixelate_mean,
    random_offset_mosaic,
)


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


def test_region_methods_by_name_report_parameters():
    image = ramp()
    out, params = REGION_METHODS["mosaic"]().apply(image, (0, 0, 4, 4), 2)
    assert params == {"block_size": 2}
    np.testing.assert_array_equal(out, mosaic_top_left(image, (0, 0, 4, 4), 2))
    out, params = REGION_METHODS["pixelate"]().apply(image, (0, 0, 4, 4), 2)
    assert params == {"block_size": 2}
    np.testing.assert_array_equal(out, pixelate_mean(image, (0, 0, 4, 4), 2))
    out, params = REGION_METHODS["blur"]().apply(image, (0, 0, 4, 4), 2.5)
    assert params == {"sigma": 2.5}
    np.testing.assert_array_equal(out, gaussian_blur(image, (0, 0, 4, 4), 2.5))
    with pytest.raises(ValueError, match="unknown person obfuscation method 'swirl' \\(config key render.minor.method"):
        REGION_METHODS["swirl"]


def test_region_method_strength_reads_only_its_keys():
    relative = {"mode": "relative", "blocks_per_face": 6, "blur_per_face": 6}
    # A 120 px face: blocks of ceil(120 / 6) = 20 px, sigma 120 / 6 = 20; the configured sizes are the floor.
    assert REGION_METHODS["mosaic"]().strength(120.0, {"block_size": 9}, relative) == 20
    assert REGION_METHODS["pixelate"]().strength(30.0, {"block_size": 9}, relative) == 9
    assert REGION_METHODS["blur"]().strength(120.0, {"blur_sigma": 15.0}, relative) == 20.0
    assert REGION_METHODS["blur"]().strength(120.0, {"blur_sigma": 15.0}, {"mode": "original"}) == 15.0
    assert [REGION_METHODS.entry(name).keys for name in REGION_METHODS.names] == [
        ("block_size",), ("block_size",), ("blur_sigma",)]


# --- The whole-array implementations against the original per-block loops ---------------------------


def _reference_mosaic_top_left(image, region, block=9):
    out = image.copy()
    x0, y0, x1, y1 = region
    for top in range(y0, y1, block):
        for left in range(x0, x1, block):
            out[top : min(top + block, y1), left : min(left + block, x1)] = image[top, left]
    return out


def _reference_pixelate_mean(image, region, block=9):
    out = image.copy()
    x0, y0, x1, y1 = region
    for top in range(y0, y1, block):
        for left in range(x0, x1, block):
            cell = image[top : min(top + block, y1), left : min(left + block, x1)]
            out[top : min(top + block, y1), left : min(left + block, x1)] = np.rint(
                cell.reshape(-1, cell.shape[-1]).mean(axis=0)
            ).astype(image.dtype)
    return out


def _reference_random_offset_mosaic(image, region, rng, half_sizes):
    out = image.copy()
    height, width = image.shape[:2]
    half = int(rng.integers(half_sizes[0], half_sizes[1] + 1))
    side = 2 * half + 1
    x0, y0, x1, y1 = region
    for top in range(y0, y1, side):
        for left in range(x0, x1, side):
            dy, dx = rng.integers(-half, half + 1, size=2)
            source_y = min(max(top + half + int(dy), 0), height - 1)
            source_x = min(max(left + half + int(dx), 0), width - 1)
            out[top : min(top + side, y1), left : min(left + side, x1)] = image[source_y, source_x]
    return out, half


def _reference_gaussian_noise(image, region, rng, sigma):
    out = image.copy()
    x0, y0, x1, y1 = region
    field = rng.normal(0.0, sigma, size=(y1 - y0, x1 - x0, 1))
    out[y0:y1, x0:x1] = np.clip(np.rint(image[y0:y1, x0:x1] + field), 0, 255).astype(image.dtype)
    return out


def _reference_gaussian_blur(image, region, sigma=15.0, kernel=None):
    kernel = kernel or 2 * math.ceil(3 * sigma) + 1
    x0, y0, x1, y1 = region
    pad = kernel // 2
    height, width = image.shape[:2]
    px0, py0 = max(0, x0 - pad), max(0, y0 - pad)
    px1, py1 = min(width, x1 + pad), min(height, y1 + pad)
    blurred = cv2.GaussianBlur(image[py0:py1, px0:px1], (kernel, kernel), sigma, borderType=cv2.BORDER_REFLECT_101)
    out = image.copy()
    out[y0:y1, x0:x1] = blurred[y0 - py0 : y1 - py0, x0 - px0 : x1 - px0]
    return out


def _same_state(a, b):
    """Bit generator states (dicts holding ints and, for some generators, arrays) are equal."""
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same_state(a[key], b[key]) for key in a)
    return np.array_equal(a, b)


def _random_image(rng, height, width, dtype=np.uint8):
    """Random pixels with flat patches and a few saturated ones (ties and extremes in block means)."""
    if dtype == np.bool_:
        return rng.integers(0, 2, size=(height, width, 3)).astype(bool)
    info = np.iinfo(dtype) if np.issubdtype(dtype, np.integer) else None
    low, high = (int(info.min), int(info.max)) if info else (-1000.0, 1000.0)
    if info:
        image = rng.integers(low, high, size=(height, width, 3), dtype=dtype, endpoint=True)
    else:
        image = rng.uniform(low, high, size=(height, width, 3)).astype(dtype)
    image[rng.random((height, width)) < 0.2] = image[0, 0]
    image[rng.random((height, width)) < 0.05] = high
    return image


def _random_region(rng, height, width):
    """Random regions, weighted towards the awkward ones: whole image, touching borders, single pixels."""
    kind = rng.integers(0, 5)
    if kind == 0:
        return 0, 0, width, height
    if kind == 1:  # one pixel
        x, y = int(rng.integers(0, width)), int(rng.integers(0, height))
        return x, y, x + 1, y + 1
    x0, x1 = sorted(rng.choice(width + 1, size=2, replace=False).tolist())
    y0, y1 = sorted(rng.choice(height + 1, size=2, replace=False).tolist())
    if kind == 2:  # touching the right and bottom borders
        x1, y1 = width, height
    return x0, y0, x1, y1


def _cases(seed, count, max_side=40):
    rng = np.random.default_rng(seed)
    for _ in range(count):
        height, width = (int(n) for n in rng.integers(1, max_side + 1, size=2))
        yield rng, height, width, _random_region(rng, height, width)


def test_mosaic_equals_the_block_loop():
    for rng, height, width, region in _cases(1, 300):
        image = _random_image(rng, height, width)
        block = int(rng.choice([1, 2, 3, 5, 9, 16, 64]))
        np.testing.assert_array_equal(mosaic_top_left(image, region, block),
                                      _reference_mosaic_top_left(image, region, block), err_msg=f"{region} {block}")


def test_mosaic_of_a_single_channel_image_equals_the_block_loop():
    image = _random_image(np.random.default_rng(2), 23, 17)[:, :, 0]
    for block in (1, 4, 9):
        np.testing.assert_array_equal(mosaic_top_left(image, (3, 2, 17, 23), block),
                                      _reference_mosaic_top_left(image, (3, 2, 17, 23), block))


def test_pixelate_takes_integer_colour_images_only():
    with pytest.raises(ValueError, match="H x W x C integer image"):
        pixelate_mean(np.zeros((4, 4, 3), np.float32), (0, 0, 4, 4), 2)
    with pytest.raises(ValueError, match="H x W x C integer image"):
        pixelate_mean(np.zeros((4, 4), np.uint8), (0, 0, 4, 4), 2)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.int16, np.int32, np.bool_])
def test_pixelate_equals_the_block_loop(dtype):
    count = 400 if dtype == np.uint8 else 40
    for rng, height, width, region in _cases(3, count):
        image = _random_image(rng, height, width, dtype)
        block = int(rng.choice([1, 2, 3, 4, 5, 9, 16, 64]))
        got = pixelate_mean(image, region, block)
        assert got.dtype == image.dtype
        np.testing.assert_array_equal(got, _reference_pixelate_mean(image, region, block), err_msg=f"{region} {block}")


def test_pixelate_rounds_half_to_even_as_the_loop():
    # Means of exactly x.5 in every block: 2x1 blocks of (2k, 2k + 1).
    image = np.zeros((2, 64, 3), np.uint8)
    image[0] = np.arange(0, 128, 2)[:, None]
    image[1] = np.arange(1, 129, 2)[:, None]
    np.testing.assert_array_equal(pixelate_mean(image, (0, 0, 64, 2), 2),
                                  _reference_pixelate_mean(image, (0, 0, 64, 2), 2))


@pytest.mark.parametrize("half_sizes", [(2, 7), (0, 0), (0, 3), (4, 4), (1, 12)])
def test_random_mosaic_equals_the_block_loop_and_draws_the_same_numbers(half_sizes):
    for seed, (rng, height, width, region) in enumerate(_cases(4, 60)):
        image = _random_image(rng, height, width)
        ours, theirs = np.random.default_rng(seed), np.random.default_rng(seed)
        got, half = random_offset_mosaic(image, region, ours, half_sizes)
        expected, expected_half = _reference_random_offset_mosaic(image, region, theirs, half_sizes)
        np.testing.assert_array_equal(got, expected, err_msg=f"{region} {half_sizes} seed {seed}")
        assert half == expected_half
        assert _same_state(ours.bit_generator.state, theirs.bit_generator.state)
        np.testing.assert_array_equal(ours.integers(0, 1000, size=5), theirs.integers(0, 1000, size=5))


@pytest.mark.parametrize("bit_generator", [np.random.PCG64, np.random.PCG64DXSM, np.random.MT19937, np.random.Philox,
                                           np.random.SFC64])
def test_random_mosaic_draws_as_the_loop_with_any_bit_generator(bit_generator):
    image = _random_image(np.random.default_rng(5), 50, 37)
    for seed in range(5):
        ours, theirs = np.random.Generator(bit_generator(seed)), np.random.Generator(bit_generator(seed))
        got, half = random_offset_mosaic(image, (3, 1, 37, 50), ours, (1, 6))
        expected, expected_half = _reference_random_offset_mosaic(image, (3, 1, 37, 50), theirs, (1, 6))
        np.testing.assert_array_equal(got, expected)
        assert half == expected_half
        assert _same_state(ours.bit_generator.state, theirs.bit_generator.state)


@pytest.mark.parametrize("half", [0, 1, 7, 2**30, 3 * 2**29])
def test_bounded_draws_in_one_call_equal_draws_in_pairs(half):
    # What random_offset_mosaic relies on: one integers(size=(n, 2)) call takes the same 32-bit values
    # from the bit generator as n calls of size 2, rejections included (frequent for the large ranges).
    for seed in range(20):
        for blocks in (0, 1, 2, 3, 17):
            pairs, single = np.random.default_rng(seed), np.random.default_rng(seed)
            pairs.integers(0, 3)  # an odd number of 32-bit values drawn before, as the half-size draw
            single.integers(0, 3)
            expected = [pairs.integers(-half, half + 1, size=2) for _ in range(blocks)]
            got = single.integers(-half, half + 1, size=(blocks, 2))
            np.testing.assert_array_equal(got, np.reshape(expected, (blocks, 2)))
            assert _same_state(single.bit_generator.state, pairs.bit_generator.state)


def test_noise_equals_the_whole_field_version():
    for seed, (rng, height, width, region) in enumerate(_cases(6, 100)):
        image = _random_image(rng, height, width)
        ours, theirs = np.random.default_rng(seed), np.random.default_rng(seed)
        sigma = float(rng.choice([0.0, 3.0, 25.0, 300.0]))
        np.testing.assert_array_equal(gaussian_noise(image, region, ours, sigma),
                                      _reference_gaussian_noise(image, region, theirs, sigma))
        assert _same_state(ours.bit_generator.state, theirs.bit_generator.state)


def test_noise_drawn_in_slabs_equals_the_whole_field_version(monkeypatch):
    monkeypatch.setattr(obfuscate, "_NOISE_SLAB_ELEMENTS", 100)  # many slabs, some of a single row
    image = _random_image(np.random.default_rng(7), 61, 45)
    for region in [(0, 0, 45, 61), (4, 3, 40, 60), (44, 60, 45, 61)]:
        ours, theirs = np.random.default_rng(8), np.random.default_rng(8)
        np.testing.assert_array_equal(gaussian_noise(image, region, ours, 25.0),
                                      _reference_gaussian_noise(image, region, theirs, 25.0))
        assert _same_state(ours.bit_generator.state, theirs.bit_generator.state)


def test_blur_equals_the_original():
    rng = np.random.default_rng(9)
    image = _random_image(rng, 70, 90)
    for region in [(0, 0, 90, 70), (0, 0, 1, 1), (10, 20, 50, 69), (89, 0, 90, 70), (30, 30, 31, 31)]:
        for sigma, kernel in [(15.0, None), (2.0, None), (1.5, 5)]:
            np.testing.assert_array_equal(gaussian_blur(image, region, sigma, kernel),
                                          _reference_gaussian_blur(image, region, sigma, kernel))
    gray = image[:, :, 0]
    np.testing.assert_array_equal(gaussian_blur(gray, (0, 0, 90, 70), 3.0),
                                  _reference_gaussian_blur(gray, (0, 0, 90, 70), 3.0))


@pytest.mark.parametrize("region", [(5, 5, 5, 9), (5, 5, 9, 5), (5, 5, 5, 5)])
def test_empty_regions_change_nothing_and_draw_as_the_loop(region):
    image = _random_image(np.random.default_rng(10), 12, 12)
    np.testing.assert_array_equal(mosaic_top_left(image, region, 3), image)
    np.testing.assert_array_equal(pixelate_mean(image, region, 3), image)
    ours, theirs = np.random.default_rng(0), np.random.default_rng(0)
    got, half = random_offset_mosaic(image, region, ours, (2, 7))
    np.testing.assert_array_equal(got, image)
    assert half == _reference_random_offset_mosaic(image, region, theirs, (2, 7))[1]
    assert _same_state(ours.bit_generator.state, theirs.bit_generator.state)
    np.testing.assert_array_equal(gaussian_noise(image, region, ours, 25.0), image)


def test_wide_blur_runs_shrunk_and_stays_close_to_the_full_resolution_blur():
    image = np.random.default_rng(3).integers(0, 256, (400, 500, 3), dtype=np.uint8)
    image = cv2.GaussianBlur(image, (0, 0), 4)  # some structure at several scales
    region = (50, 40, 450, 360)
    fast = gaussian_blur(image, region, sigma=40.0)
    exact = _reference_gaussian_blur(image, region, sigma=40.0)
    outside = np.ones(image.shape[:2], bool)
    outside[40:360, 50:450] = False
    np.testing.assert_array_equal(fast[outside], image[outside])
    difference = np.abs(fast.astype(int) - exact.astype(int))[~outside]
    assert difference.mean() < 1.0 and difference.max() <= 6
    # Below sigma 20 the blur is the exact full-resolution one.
    np.testing.assert_array_equal(gaussian_blur(image, region, sigma=19.0),
                                  _reference_gaussian_blur(image, region, 19.0))


def test_method_settings_drop_only_what_other_methods_read():
    from photoprivacy.render.methods import MASK_METHODS

    scenario1 = {"method": "random_mosaic", "components": ["persons"], "mosaic_half_sizes": [2, 7], "block_size": 9,
                 "blur_kernel": 45, "blur_sigma": 15.0, "noise_sigma": 25.0, "clean_kernel": 5}
    minor = {"method": "pixelate", "block_size": 9, "blur_sigma": 15.0}

    def config(scenario1, minor):
        return {"render": {"scenario1": scenario1, "minor": minor}}

    assert MASK_METHODS.settings(config(scenario1, minor)) == {
        "method": "random_mosaic", "components": ["persons"], "mosaic_half_sizes": [2, 7], "clean_kernel": 5}
    assert set(MASK_METHODS.settings(config({**scenario1, "method": "blur"}, minor))) == {
        "method", "components", "blur_kernel", "blur_sigma", "clean_kernel"}
    assert REGION_METHODS.settings(config(scenario1, minor)) == {"method": "pixelate", "block_size": 9}
    assert REGION_METHODS.settings(config(scenario1, {**minor, "method": "blur"})) == {
        "method": "blur", "blur_sigma": 15.0}
