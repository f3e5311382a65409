"""Obfuscation methods on a whole 12-megapixel region versus a cv2.resize pixelation.

    .venv/bin/python benchmarks/obfuscation.py [--before] [--repeat 3] [--block 9]

Builds a 4000x3000 RGB image (the shared city.jpg upscaled, or seeded noise plus
a gradient when it is missing), then times each method of
photoprivacy.render.obfuscate with the whole image as its region (best of
--repeat), and the reference: cv2.resize down by the block size with INTER_AREA,
then back up with INTER_NEAREST. Prints seconds and the ratio to the reference.
With --before, also times the original per-block loop versions (copied below as
_loop_*) and checks that both give identical pixels (the loops take about
half a minute each for pixelate).
"""

import argparse
import math
import time

import cv2
import numpy as np

from common import SHARED_PHOTOS
from photoprivacy.render import obfuscate

WIDTH, HEIGHT = 4000, 3000


def test_image():
    """A 4000x3000 RGB uint8 image: the shared city photo upscaled, else noise on a gradient."""
    photo = SHARED_PHOTOS / "city.jpg"
    if photo.exists():
        bgr = cv2.imread(str(photo), cv2.IMREAD_COLOR)
        if bgr is not None:
            rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
            return cv2.resize(rgb, (WIDTH, HEIGHT), interpolation=cv2.INTER_CUBIC), photo.name
    rng = np.random.default_rng(0)
    gradient = np.add.outer(np.linspace(0, 160, HEIGHT), np.linspace(0, 60, WIDTH))[:, :, None]
    noise = rng.integers(0, 96, size=(HEIGHT, WIDTH, 3))
    return np.clip(gradient + noise, 0, 255).astype(np.uint8), "seeded noise + gradient"


def resize_pixelation(image, block):
    """The reference: average down by ``block`` (INTER_AREA), then nearest-neighbour back up."""
    height, width = image.shape[:2]
    small = cv2.resize(image, (max(1, width // block), max(1, height // block)), interpolation=cv2.INTER_AREA)
    return cv2.resize(small, (width, height), interpolation=cv2.INTER_NEAREST)


# --- The per-block loop versions the library had before (for --before) ---------------------------------


def _loop_mosaic_top_left(image, region, block=9):
    out = image.copy()
    x0, y0, x1, y1 = region
    for top in range(y0, y1, block):
        for left in range(x0, x1, block):
            out[top : min(top + block, y1), left : min(left + block, x1)] = image[top, left]
    return out


def _loop_pixelate_mean(image, region, block=9):
    out = image.copy()
    x0, y0, x1, y1 = region
    for top in range(y0, y1, block):
        for left in range(x0, x1, block):
            cell = image[top : min(top + block, y1), left : min(left + block, x1)]
            out[top : min(top + block, y1), left : min(left + block, x1)] = np.rint(
                cell.reshape(-1, cell.shape[-1]).mean(axis=0)
            ).astype(image.dtype)
    return out


def _loop_random_offset_mosaic(image, region, rng, half_sizes=(2, 7)):
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


def _loop_gaussian_blur(image, region, sigma=15.0, kernel=None):
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


def _loop_gaussian_noise(image, region, rng, sigma=25.0):
    out = image.copy()
    x0, y0, x1, y1 = region
    field = rng.normal(0.0, sigma, size=(y1 - y0, x1 - x0, 1))
    out[y0:y1, x0:x1] = np.clip(np.rint(image[y0:y1, x0:x1] + field), 0, 255).astype(image.dtype)
    return out


def methods(module, block):
    """name -> a call on (image, region) returning the image and the rng state after (None: no rng)."""

    def with_rng(function, *args):
        def call(image, region):
            rng = np.random.default_rng(0)
            result = function(image, region, rng, *args)
            return (result[0] if isinstance(result, tuple) else result), rng.bit_generator.state

        return call

    return {
        f"mosaic_top_left (block {block})":
            lambda image, region: (module["mosaic_top_left"](image, region, block), None),
        f"pixelate_mean (block {block})":
            lambda image, region: (module["pixelate_mean"](image, region, block), None),
        "random_offset_mosaic (2..7)": with_rng(module["random_offset_mosaic"], (2, 7)),
        "gaussian_blur (sigma 15)": lambda image, region: (module["gaussian_blur"](image, region, 15.0), None),
        "gaussian_noise (sigma 25)": with_rng(module["gaussian_noise"], 25.0),
    }


def best_of(repeat, function, *args):
    """(fewest seconds of ``repeat`` calls, the last call's result)."""
    times = []
    for _ in range(repeat):
        began = time.perf_counter()
        result = function(*args)
        times.append(time.perf_counter() - began)
    return min(times), result


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", action="store_true", help="also time the original per-block loops")
    parser.add_argument("--repeat", type=int, default=3, help="calls per method; the fastest counts")
    parser.add_argument("--block", type=int, default=9, help="block size of mosaic, pixelate and the reference")
    args = parser.parse_args()

    image, source = test_image()
    region = (0, 0, WIDTH, HEIGHT)
    reference, _ = best_of(args.repeat, resize_pixelation, image, args.block)
    names = ("mosaic_top_left", "pixelate_mean", "random_offset_mosaic", "gaussian_blur", "gaussian_noise")
    after = methods({name: getattr(obfuscate, name) for name in names}, args.block)
    before = methods({name: globals()[f"_loop_{name}"] for name in names}, args.block)

    print(f"{WIDTH}x{HEIGHT} RGB ({source}), whole image as region, best of {args.repeat}, "
          f"cv2 {cv2.__version__} ({cv2.getNumThreads()} threads), numpy {np.__version__}")
    print(f"reference, cv2.resize pixelation (INTER_AREA down by {args.block}, INTER_NEAREST up): {reference:.3f} s\n")
    header = f"{'method':<32} {'seconds':>8} {'x ref':>7}"
    if args.before:
        header += f" {'before s':>9} {'x ref':>7} {'speed-up':>9}  identical"
    print(header)
    print("-" * len(header))
    for name, call in after.items():
        seconds, (pixels, state) = best_of(args.repeat, call, image, region)
        line = f"{name:<32} {seconds:8.3f} {seconds / reference:7.1f}"
        if args.before:
            old_seconds, (old_pixels, old_state) = best_of(args.repeat, before[name], image, region)
            identical = np.array_equal(pixels, old_pixels) and state == old_state
            line += (f" {old_seconds:9.3f} {old_seconds / reference:7.1f} {old_seconds / seconds:8.1f}x"
                     f"  {'yes' if identical else 'NO'}{' (pixels and rng state)' if state else ''}")
        print(line, flush=True)


if __name__ == "__main__":
    main()
