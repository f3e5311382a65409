"""Grids onto the photo: bilinear and the original's Gaussian pyramid expansion of word maps."""

import numpy as np
import pytest
from skimage.transform import pyramid_expand

from photoprivacy.masks.components import words_mask
from photoprivacy.masks.heatmaps import bilinear, pyramid, upsample_and_normalise


def word_map():
    """A 14x14 attention map with an off-centre peak and a weaker second one, summing to 1."""
    grid = np.full((14, 14), 0.002)
    grid[3, 9], grid[10, 2] = 0.5, 0.2
    return grid / grid.sum()


def test_pyramid_is_the_originals_expand_at_336():
    """At 336 x 336 a 14x14 map is exactly pyramid_expand(map, upscale=24, sigma=8)."""
    grid = word_map()
    expected = pyramid_expand(grid, upscale=24, sigma=8)
    assert expected.shape == (336, 336)
    np.testing.assert_allclose(pyramid(grid, 336, 336), expected, rtol=0, atol=1e-7)
    # The smoothing is real: bilinear alone differs.
    assert np.abs(pyramid(grid, 336, 336) - bilinear(grid, 336, 336)).max() > 1e-3


def test_pyramid_then_bilinear_to_the_photo():
    grid = word_map()
    up = pyramid(grid, 200, 300)
    assert up.shape == (200, 300) and up.dtype == np.float32
    np.testing.assert_allclose(up, bilinear(pyramid_expand(grid, upscale=24, sigma=8), 200, 300), atol=1e-7)


def test_pyramid_is_smooth_and_keeps_the_peak():
    """A single hot cell: the maximum stays at that cell's centre, the map is symmetric around it,
    and the Gaussian (sigma 8 px) spreads it beyond the cell, unlike bilinear."""
    grid = np.zeros((14, 14))
    grid[7, 7] = 1.0
    up = pyramid(grid, 336, 336)
    peak = np.unravel_index(np.argmax(up), up.shape)
    assert peak in {(179, 179), (180, 180), (179, 180), (180, 179)}  # cell 7 spans 168..191, centre 179.5
    np.testing.assert_allclose(up[168:192, 168:192], up[168:192, 168:192][::-1, ::-1], atol=1e-12)
    heat, _ = upsample_and_normalise(grid, 336, 336, "pyramid")
    flat, _ = upsample_and_normalise(grid, 336, 336, "bilinear")
    assert (heat > 0.5).sum() > (flat > 0.5).sum()
    assert heat.max() == 1.0 and heat.min() == 0.0


def test_unknown_upsampling_is_named():
    with pytest.raises(ValueError, match="unknown upsampling 'nearest'"):
        upsample_and_normalise(word_map(), 10, 10, "nearest")


def test_words_mask_with_pyramid_upsampling():
    grid = np.zeros((14, 14))
    grid[0:2, 0:2] = 1.0  # the top-left corner
    maps = np.stack([np.zeros((14, 14)), grid])
    mask, note = words_mask(["horse"], ["a", "horse"], maps, 336, 336, 0.5, "pyramid")
    assert note is None and mask[:24, :24].all() and not mask[100:, :].any() and not mask[:, 100:].any()


def test_upsample_shape_and_range():
    grid = np.random.default_rng(0).random((14, 14)).astype(np.float32)
    scaled, reason = upsample_and_normalise(grid, 224, 300, "bilinear")
    assert reason is None
    assert scaled.shape == (224, 300) and scaled.dtype == np.float32
    assert scaled.min() == 0.0 and scaled.max() == 1.0


def test_upsample_same_size_is_identity_then_min_max():
    scaled, reason = upsample_and_normalise(np.array([[1.0, 3.0], [5.0, 9.0]]), 2, 2, "bilinear")
    assert reason is None
    np.testing.assert_allclose(scaled, [[0.0, 0.25], [0.5, 1.0]], rtol=0, atol=1e-7)


def test_upsample_doubling_a_row_by_hand():
    # align_corners=False, 1x2 -> 1x4: output x maps to source x/2 - 0.25, clamped at the edges,
    # so the values are 0, 0.25 * 4, 0.75 * 4, 4 -> min-max [0, 0.25, 0.75, 1].
    scaled, reason = upsample_and_normalise(np.array([[0.0, 4.0]]), 1, 4, "bilinear")
    assert reason is None
    np.testing.assert_allclose(scaled, [[0.0, 0.25, 0.75, 1.0]], rtol=0, atol=1e-7)


@pytest.mark.parametrize("upsampling", ["bilinear", "pyramid"])
@pytest.mark.parametrize(
    "grid, reason",
    [
        (np.full((14, 14), 0.3), "relevance map is constant"),
        (np.zeros((14, 14)), "relevance map is constant"),
        (np.where(np.eye(14) > 0, np.nan, 1.0), "relevance map has non-finite values"),
        (np.where(np.eye(14) > 0, np.inf, 1.0), "relevance map has non-finite values"),
    ],
)
def test_degenerate_maps_give_zeros_and_reason(grid, reason, upsampling):
    scaled, found = upsample_and_normalise(grid, 32, 48, upsampling)
    assert found == reason
    assert scaled.shape == (32, 48) and scaled.dtype == np.float32
    assert not scaled.any()
