"""The one image loader: every stage decodes photos through ``load_rgb``.

It applies EXIF orientation, converts every mode PIL reads (grayscale, RGBA,
palette, 16-bit, CMYK, ...) to 8-bit RGB, and refuses images whose header
announces more pixels than ``max_pixels`` before decoding them (a
decompression bomb would otherwise exhaust memory). ``max_pixels`` is the
caller's: config.yaml's execution.max_image_pixels, for the workflow's photos.
"""

from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from .errors import ImageRejected

# Alpha is flattened onto white: a transparent background reads as paper, not as black.
_BACKGROUND = (255, 255, 255)


def load_rgb(path, max_pixels):
    """Decode ``path`` to an (H, W, 3) uint8 array, or raise ``ImageRejected``."""
    path = Path(path)
    try:
        if path.stat().st_size == 0:
            raise ImageRejected(path, "empty file (0 bytes)")
        with Image.open(path) as image:
            width, height = image.size
            if width * height > max_pixels:
                raise ImageRejected(
                    path,
                    f"decompression bomb: {width}x{height} = {width * height} pixels "
                    f"exceeds max_image_pixels {max_pixels}",
                )
            image.load()
            image = ImageOps.exif_transpose(image)
            return _to_rgb8(image)
    except ImageRejected:
        raise
    except Image.UnidentifiedImageError:
        raise ImageRejected(path, "not an image (format not recognised)") from None
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as error:
        raise ImageRejected(path, f"cannot decode: {error}") from None


def _to_rgb8(image):
    if image.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        return _high_bit_depth_to_rgb8(image)
    if image.mode == "P":
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        image = image.convert("RGBA")
        flat = Image.new("RGB", image.size, _BACKGROUND)
        flat.paste(image, mask=image.getchannel("A"))
        image = flat
    if image.mode != "RGB":
        image = image.convert("RGB")
    return np.asarray(image, dtype=np.uint8).copy()


def _high_bit_depth_to_rgb8(image):
    """Scale 16-bit (or 32-bit int / float) single-channel data to 0..255."""
    values = np.asarray(image).astype(np.float64)
    top = max(float(values.max()), 1.0) if image.mode == "F" else 65535.0
    gray = np.clip(np.rint(values / top * 255.0), 0, 255).astype(np.uint8)
    return np.repeat(gray[:, :, None], 3, axis=2)


def decode_batch(items, max_pixels):
    """Decode the image of each item (a dict with "path").

    Returns (decoded, rejected): lists of (item, pixels) and (item, reason),
    so a stage writes its rejected records and runs its model on the rest.
    """
    decoded, rejected = [], []
    for item in items:
        try:
            decoded.append((item, load_rgb(item["path"], max_pixels)))
        except ImageRejected as error:
            rejected.append((item, error.reason))
    return decoded, rejected
