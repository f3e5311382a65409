"""Scenario 1 masks and mask-based obfuscation, pixel-exact on small arrays."""

import numpy as np
import pytest

from photoprivacy.render.masking import bounding_region, clean, feather, obfuscate_masked, union


def test_union_of_enabled_components_only():
    persons = np.zeros((4, 4), bool)
    persons[0, 0] = True
    scene = np.zeros((4, 4), bool)
    scene[3, 3] = True
    combined = union({"persons": persons, "scene": scene}, ["persons"])
    assert combined.sum() == 1 and combined[0, 0]
    assert union({"persons": persons, "scene": scene}, ["persons", "scene"]).sum() == 2
    with pytest.raises(ValueError, match=r"unknown mask component\(s\) \['objects'\]"):
        union({"persons": persons}, ["objects"])


def test_clean_removes_specks_and_keeps_solid_regions():
    mask = np.zeros((20, 20), bool)
    mask[2:12, 2:12] = True  # a 10 x 10 square survives an opening with a 3 x 3 kernel
    mask[17, 17] = True  # a speck does not
    cleaned = clean(mask, kernel=3)
    np.testing.assert_array_equal(cleaned[2:12, 2:12], True)
    assert cleaned.sum() == 100


def test_feather_zero_is_the_hard_mask_and_positive_is_soft():
    mask = np.zeros((41, 41), bool)
    mask[10:31, 10:31] = True
    np.testing.assert_array_equal(feather(mask, 0.0), mask.astype(np.float32))
    soft = feather(mask, 2.0)
    assert soft[20, 20] == pytest.approx(1.0, abs=1e-3) and 0.2 < soft[20, 10] < 0.8 and soft[0, 0] < 1e-3


def test_bounding_region():
    alpha = np.zeros((6, 8), np.float32)
    alpha[2:4, 3:7] = 0.5
    assert bounding_region(alpha) == (3, 2, 7, 4)
    assert bounding_region(np.zeros((3, 3))) is None


def square_alpha(size=60, inner=(10, 10, 50, 50)):
    alpha = np.zeros((size, size), np.float32)
    x0, y0, x1, y1 = inner
    alpha[y0:y1, x0:x1] = 1.0
    return alpha


def textured(size=60, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (size, size, 3), dtype=np.uint8)


@pytest.mark.parametrize(
    ("method", "strength"), [("random_mosaic", (2, 7)), ("pixelate", 8), ("blur", (45, 15.0)), ("noise", 25.0)]
)
def test_only_masked_pixels_change_and_the_same_seed_gives_the_same_pixels(method, strength):
    image, alpha = textured(), square_alpha()
    out, params = obfuscate_masked(image, alpha, method, seed=3, strength=strength)
    outside = alpha == 0
    np.testing.assert_array_equal(out[outside], image[outside])
    assert not np.array_equal(out[~outside], image[~outside])
    again, _ = obfuscate_masked(image, alpha, method, seed=3, strength=strength)
    np.testing.assert_array_equal(out, again)
    assert params["seed"] == 3


def test_random_mosaic_cells_are_constant_and_come_from_their_window():
    image, alpha = textured(), square_alpha(inner=(0, 0, 60, 60))
    out, params = obfuscate_masked(image, alpha, "random_mosaic", seed=1, strength=(2, 7))
    half = params["half_size"]
    assert 2 <= half <= 7
    side = 2 * half + 1
    for top in range(0, 60, side):
        for left in range(0, 60, side):
            cell = out[top : top + side, left : left + side]
            colour = cell[0, 0]
            assert (cell == colour).all()
            # offsets stay within -k..k of the centre
            window = image[max(0, top): top + side, max(0, left): left + side]
            assert (window.reshape(-1, 3) == colour).all(axis=1).any()


def test_random_mosaic_half_size_follows_the_seed():
    image, alpha = textured(), square_alpha()
    halves = {obfuscate_masked(image, alpha, "random_mosaic", seed=s, strength=(2, 7))[1]["half_size"]
              for s in range(30)}
    assert halves <= set(range(2, 8)) and len(halves) > 3
    assert obfuscate_masked(image, alpha, "random_mosaic", seed=0, strength=(4, 4))[1]["half_size"] == 4


def test_noise_is_one_field_on_all_channels_with_the_asked_sigma():
    image = np.full((200, 200, 3), 128, np.uint8)
    alpha = np.ones((200, 200), np.float32)
    for sigma in (25.0, 50.0):
        out, params = obfuscate_masked(image, alpha, "noise", seed=0, strength=sigma)
        difference = out.astype(float) - 128
        np.testing.assert_array_equal(difference[:, :, 0], difference[:, :, 1])
        np.testing.assert_array_equal(difference[:, :, 0], difference[:, :, 2])
        assert abs(difference.mean()) < 0.5
        clipped = 0.01 if sigma == 25 else 0.02  # 128 +- 2.5 sigma stays mostly within 0..255
        assert difference.std() == pytest.approx(sigma, rel=0.03 + clipped)
        assert params == {"sigma": sigma, "seed": 0}


def test_blur_of_a_constant_image_is_exact_and_pixelate_takes_block_means():
    image = np.full((30, 30, 3), 90, np.uint8)
    out, params = obfuscate_masked(image, square_alpha(30, (5, 5, 25, 25)), "blur", seed=0, strength=(45, 15.0))
    np.testing.assert_array_equal(out, image)
    assert params == {"kernel": 45, "sigma": 15.0, "seed": 0}
    ramp = np.repeat(np.arange(4, dtype=np.uint8)[None, :, None], 3, axis=2).repeat(4, axis=0)
    out, _ = obfuscate_masked(ramp * 10, np.ones((4, 4), np.float32), "pixelate", seed=0, strength=2)
    np.testing.assert_array_equal(out[0, :, 0], [5, 5, 25, 25])  # means of 0,10 and 20,30


def test_feathered_alpha_blends_partially():
    image = np.zeros((20, 20, 3), np.uint8)
    alpha = np.full((20, 20), 0.5, np.float32)
    out, _ = obfuscate_masked(image, alpha, "noise", seed=0, strength=0.0)
    np.testing.assert_array_equal(out, image)  # sigma 0 noise changes nothing, whatever the alpha
    white = np.full((20, 20, 3), 200, np.uint8)
    blended, _ = obfuscate_masked(white, alpha, "pixelate", seed=0, strength=4)
    np.testing.assert_array_equal(blended, white)  # constant stays constant through the blend


def test_empty_mask_changes_nothing():
    image = textured()
    out, params = obfuscate_masked(image, np.zeros((60, 60), np.float32), "blur", seed=0, strength=(45, 15.0))
    np.testing.assert_array_equal(out, image)
    assert "empty mask" in params["note"]


def test_unknown_method_is_named():
    unknown = (r"unknown scenario 1 obfuscation method 'swirl' "
               r"\(config key render.scenario1.method: one of random_mosaic, pixelate, blur, noise\)")
    with pytest.raises(ValueError, match=unknown):
        obfuscate_masked(textured(), square_alpha(), "swirl", seed=0, strength=1)
