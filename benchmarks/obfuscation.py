"""Obfuscation methods on a whole 12-megapixel region versus a cv2.resize pixelation.

    .venv/bin/python benchmarks/obfuscation.py [--before] [--repeat 3] [--block 9]

Builds a 4000x3000 RGB image (the shared city.jpg upscaled, or seeded noise plus
a gradient when it is missing), then times each method of
photoprivacy.render.obfuscate with the whole image as its region (best of
--repeat), and the reference: cv2.resize down by the block size with INTER_AREA,
then back up with INTER_NEAREST. Prints seconds and the ratio to the reference.
With --before, also times the original per-block loop versions (the
_reference_* copies in tests/test_obfuscate.py) and checks that both give identical pixels.
"""

import argparse
import sys
import time

import cv2
import numpy as np
from common import REPO, SHARED_PHOTOS

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


# The per-block loop versions the library had before (for --before) are the tests' references.
sys.path.insert(0, str(REPO / "tests"))
import test_obfuscate as before_loops  # noqa: E402


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
    before = methods({name: getattr(before_loops, f"_reference_{name}") for name in names}, args.block)

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
