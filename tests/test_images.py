"""The shared image loader: conversions to 8-bit RGB and clear rejections."""

import io

import numpy as np
import pytest
from PIL import Image

from photoprivacy.errors import ImageRejected
from photoprivacy.images import load_rgb

from conftest import MAX_PIXELS, gradient_image, save_image

# The workflow's limit (config.yaml: execution.max_image_pixels).


def test_rgb_png_round_trips_exactly(tmp_path):
    array = gradient_image(20, 30)
    loaded = load_rgb(save_image(tmp_path / "a.png", array), MAX_PIXELS)
    assert loaded.dtype == np.uint8 and loaded.shape == (20, 30, 3)
    np.testing.assert_array_equal(loaded, array)


def test_exif_orientation_is_applied(tmp_path):
    array = gradient_image(20, 30)
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    path = tmp_path / "rotated.png"
    Image.fromarray(array).save(path, exif=exif)
    loaded = load_rgb(path, MAX_PIXELS)
    assert loaded.shape == (30, 20, 3)
    np.testing.assert_array_equal(loaded, np.rot90(array, k=-1))


def test_grayscale_becomes_three_equal_channels(tmp_path):
    gray = np.arange(12, dtype=np.uint8).reshape(3, 4) * 20
    loaded = load_rgb(save_image(tmp_path / "g.png", gray), MAX_PIXELS)
    assert loaded.shape == (3, 4, 3)
    for channel in range(3):
        np.testing.assert_array_equal(loaded[:, :, channel], gray)


def test_rgba_is_flattened_onto_white(tmp_path):
    rgba = np.zeros((2, 2, 4), dtype=np.uint8)
    rgba[0, 0] = (10, 20, 30, 255)  # opaque
    rgba[1, 1] = (10, 20, 30, 0)  # fully transparent
    loaded = load_rgb(save_image(tmp_path / "a.png", rgba), MAX_PIXELS)
    assert tuple(loaded[0, 0]) == (10, 20, 30)
    assert tuple(loaded[1, 1]) == (255, 255, 255)


def test_palette_image(tmp_path):
    image = Image.new("P", (4, 4))
    image.putpalette([0, 0, 0, 200, 100, 50] + [0] * 762)
    image.putpixel((1, 2), 1)
    path = tmp_path / "p.png"
    image.save(path)
    loaded = load_rgb(path, MAX_PIXELS)
    assert tuple(loaded[2, 1]) == (200, 100, 50)
    assert tuple(loaded[0, 0]) == (0, 0, 0)


def test_sixteen_bit_is_scaled_not_clipped(tmp_path):
    values = np.array([[0, 257 * 128, 65535]], dtype=np.uint16)
    path = tmp_path / "deep.png"
    Image.fromarray(values).save(path)
    loaded = load_rgb(path, MAX_PIXELS)
    np.testing.assert_array_equal(loaded[0, :, 0], [0, 128, 255])


def test_cmyk_jpeg(tmp_path):
    path = tmp_path / "cmyk.jpg"
    Image.new("CMYK", (8, 8), (0, 0, 0, 0)).save(path)
    loaded = load_rgb(path, MAX_PIXELS)
    assert loaded.shape == (8, 8, 3)
    assert loaded.min() >= 250  # no ink is white


def test_truncated_jpeg_is_rejected(tmp_path):
    buffer = io.BytesIO()
    Image.fromarray(gradient_image(64, 64)).save(buffer, format="JPEG")
    path = tmp_path / "cut.jpg"
    path.write_bytes(buffer.getvalue()[: len(buffer.getvalue()) // 2])
    with pytest.raises(ImageRejected, match="cannot decode"):
        load_rgb(path, MAX_PIXELS)


def test_zero_bytes_is_rejected(tmp_path):
    path = tmp_path / "empty.jpg"
    path.write_bytes(b"")
    with pytest.raises(ImageRejected, match="empty file"):
        load_rgb(path, MAX_PIXELS)


def test_text_file_is_rejected(tmp_path):
    path = tmp_path / "notes.jpg"
    path.write_text("not a photo")
    with pytest.raises(ImageRejected, match="not an image"):
        load_rgb(path, MAX_PIXELS)


def test_decompression_bomb_is_rejected_before_decoding(tmp_path):
    path = save_image(tmp_path / "big.png", gradient_image(20, 20))
    with pytest.raises(ImageRejected, match="decompression bomb: 20x20 = 400 pixels exceeds max_image_pixels 399"):
        load_rgb(path, max_pixels=399)
    assert load_rgb(path, max_pixels=400).shape == (20, 20, 3)
