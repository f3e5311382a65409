"""Speed and drift of the diffusion face generator with its UNet in half precision.

    .venv/bin/python benchmarks/fake_precision.py [--size full] [--faces 4] [--steps 50] [--device auto]

Builds the random face UNet (--size full: the DDPM CelebA-HQ 256 architecture),
then generates the same --faces faces (one batch, seed 0) in float32 and in
each half dtype the device runs: bfloat16 everywhere, float16 on CUDA only
(DiffusionFaceGenerator falls back to float32 elsewhere: on CPU a float16 UNet
step took minutes). Prints faces/s per dtype (after one warm-up UNet call) and
the drift against float32 in pixel levels (0-255) over all faces: max and mean
absolute difference, and the share of values off by more than 2 levels.

The drift is indicative only: random weights are no noise predictor, so DDIM
amplifies their rounding over the steps far more than the pretrained weights
(which cannot be downloaded here) would; the speeds hold for either.
"""

import argparse
import tempfile
import time

import numpy as np
import torch

from photoprivacy.devices import pick_device
from photoprivacy.faces.generators import DiffusionFaceGenerator
from photoprivacy.models.families import build_random


def half_dtypes(device):
    """The half dtypes ``DiffusionFaceGenerator`` runs on ``device`` (float16: CUDA only)."""
    return ["bfloat16", "float16"] if device.type == "cuda" else ["bfloat16"]


def timed_faces(generator, faces):
    """The faces of one ``generate`` call and its seconds, after a warm-up UNet call of the same batch."""
    shape = (faces, generator.unet.config.in_channels, generator.size, generator.size)
    with torch.inference_mode():
        generator.unet(torch.zeros(shape, device=generator.device, dtype=generator.unet_dtype), 999)
    if generator.device.type == "cuda":
        torch.cuda.synchronize()
    began = time.perf_counter()
    generated = generator.generate("benchmark", faces, seed=0)
    return generated, time.perf_counter() - began


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=["tiny", "full"], default="full", help="random face UNet size")
    parser.add_argument("--faces", type=int, default=4, help="faces generated, in one batch")
    parser.add_argument("--steps", type=int, default=50, help="DDIM steps")
    parser.add_argument("--device", default="auto", help="auto (cuda if available, else cpu), cpu, cuda or cuda:N")
    args = parser.parse_args()
    device = pick_device(args.device)

    rows, parameters = [], 0
    with tempfile.TemporaryDirectory() as folder:
        build_random("face_generator", folder, args.size, seed=0)
        reference = None
        for half in [None, *half_dtypes(device)]:
            generator = DiffusionFaceGenerator(folder, args.steps, device, None, half=half)
            parameters = sum(p.numel() for p in generator.unet.parameters())
            faces, seconds = timed_faces(generator, args.faces)
            if reference is None:
                reference = faces.astype(np.int16)
            diff = np.abs(faces.astype(np.int16) - reference)
            rows.append((half or "float32", args.faces / seconds, seconds / args.faces, diff))
            del generator

    threads = f", {torch.get_num_threads()} threads" if device.type == "cpu" else ""
    print(
        f"UNet2DModel {args.size} (random weights, {parameters / 1e6:.1f} M parameters), {faces.shape[1]}x"
        f"{faces.shape[2]}, {args.faces} face(s) "
        f"in one batch, {args.steps} DDIM steps, {device}{threads}"
    )
    if device.type != "cuda":
        print("float16: CUDA only (falls back to float32 here)")
    header = f"{'UNet dtype':<10} {'faces/s':>8} {'s/face':>8} {'max diff':>9} {'mean diff':>10} {'> 2 levels':>11}"
    print(header)
    print("-" * len(header))
    for name, faces_per_second, seconds_per_face, diff in rows:
        print(
            f"{name:<10} {faces_per_second:>8.4f} {seconds_per_face:>8.1f} {int(diff.max()):>9d} "
            f"{diff.mean():>10.3f} {100 * (diff > 2).mean():>10.2f}%"
        )


if __name__ == "__main__":
    main()
