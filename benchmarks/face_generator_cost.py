"""What the diffusion face generator costs per face, with full-size random weights.

    .venv/bin/python benchmarks/face_generator_cost.py [--steps 50] [--faces 1]

Builds a random UNet2DModel of the DDPM CelebA-HQ 256 architecture (the
pretrained default's), then times DDIMPipeline sampling of --faces faces.
"""

import argparse
import tempfile
import time

import torch

from photoprivacy.faces.generators import DiffusionFaceGenerator
from photoprivacy.models.families import build_random


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=50, help="DDIM steps")
    parser.add_argument("--faces", type=int, default=1, help="faces generated in one batch")
    parser.add_argument("--size", choices=["tiny", "full"], default="full")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        build_random("face_generator", folder, args.size, seed=0)
        generator = DiffusionFaceGenerator(folder, args.steps, "cpu", None)
        parameters = sum(p.numel() for p in generator.unet.parameters())
        began = time.perf_counter()
        faces = generator.generate("benchmark", args.faces, seed=0)
        seconds = time.perf_counter() - began
    print(f"UNet2DModel {args.size}: {parameters / 1e6:.1f} M parameters, {faces.shape[1]}x{faces.shape[2]} output, "
          f"{torch.get_num_threads()} threads, cpu")
    print(f"{args.faces} face(s), {args.steps} DDIM steps: {seconds:.1f} s = {seconds / args.faces:.1f} s/face "
          f"({seconds / args.faces / args.steps:.2f} s per step per face)")


if __name__ == "__main__":
    main()
