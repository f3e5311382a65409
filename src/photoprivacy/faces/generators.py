"""Face generators: where the replacement faces of major persons come from.

All generators return an (n, S, S, 3) uint8 array for n faces, deterministic
for a given seed, image id and face index (so shards and batch sizes never
change a face):

- ``diffusion``: an unconditional face diffusion model (diffusers
  ``UNet2DModel`` + ``DDIMScheduler``, e.g. a DDPM trained on CelebA-HQ),
  fetched as a model input and sampled with ``DDIMPipeline``.
- ``donor``: faces taken from a folder of synthetic donor face images.
- ``none``: no generator; rendering falls back to pixelating the face and
  says so in the decision log.
"""

from pathlib import Path

import numpy as np

from ..errors import ConfigError
from ..images import load_rgb
from ..models.store import model_summary, verify_manifest
from ..seeds import derived_seed

GENERATORS = ("diffusion", "donor", "none")
DONOR_SIZE = 128
DONOR_EXTENSIONS = (".jpg", ".jpeg", ".png", ".webp")


def face_seed(seed, image_id, face_index):
    """A 63-bit seed of its own for every face."""
    return derived_seed(seed, image_id, face_index)


class DiffusionFaceGenerator:
    name = "diffusion"

    def __init__(self, model_dir, steps=50, device="cpu"):
        import torch
        from diffusers import DDIMPipeline, DDIMScheduler, UNet2DModel

        self.model_info = model_summary(verify_manifest(model_dir))
        unet = UNet2DModel.from_pretrained(
            str(model_dir), use_safetensors=True, local_files_only=True, low_cpu_mem_usage=False
        )
        scheduler = DDIMScheduler.from_pretrained(str(model_dir), local_files_only=True)
        self.device = torch.device(device)
        self.pipeline = DDIMPipeline(unet=unet.eval(), scheduler=scheduler).to(self.device)
        self.pipeline.set_progress_bar_config(disable=True)
        self.steps = steps
        self.size = unet.config.sample_size

    def generate(self, image_id, n_faces, seed):
        import torch

        if n_faces == 0:
            return np.zeros((0, self.size, self.size, 3), np.uint8)
        generators = [torch.Generator("cpu").manual_seed(face_seed(seed, image_id, i)) for i in range(n_faces)]
        with torch.inference_mode():
            images = self.pipeline(
                batch_size=n_faces, generator=generators, num_inference_steps=self.steps, eta=0.0, output_type="np"
            ).images
        return np.clip(np.rint(images * 255), 0, 255).astype(np.uint8)


class DonorFaceGenerator:
    name = "donor"

    def __init__(self, folder, size=DONOR_SIZE):
        folder = Path(folder or "")
        self.donors = sorted(p for p in folder.glob("*") if p.suffix.lower() in DONOR_EXTENSIONS) if folder.is_dir() else []
        if not self.donors:
            raise ConfigError(f"config key fakes.donor_folder: no donor face images in '{folder}'")
        self.size = size
        self.model_info = {"source": "donors", "id": str(folder), "revision": None}

    def generate(self, image_id, n_faces, seed):
        import cv2

        faces = np.zeros((n_faces, self.size, self.size, 3), np.uint8)
        for index in range(n_faces):
            rng = np.random.default_rng(face_seed(seed, image_id, index))
            donor = load_rgb(self.donors[int(rng.integers(len(self.donors)))])
            side = min(donor.shape[:2])
            top, left = (donor.shape[0] - side) // 2, (donor.shape[1] - side) // 2
            square = donor[top : top + side, left : left + side]
            faces[index] = cv2.resize(square, (self.size, self.size), interpolation=cv2.INTER_AREA)
        return faces


class NoFaceGenerator:
    name = "none"
    model_info = None

    def generate(self, image_id, n_faces, seed):
        return np.zeros((0, 1, 1, 3), np.uint8)


def make_face_generator(name, model_dir=None, steps=50, donor_folder=None, device="cpu"):
    if name == "diffusion":
        return DiffusionFaceGenerator(model_dir, steps, device)
    if name == "donor":
        return DonorFaceGenerator(donor_folder)
    if name == "none":
        return NoFaceGenerator()
    raise ValueError(f"unknown face generator '{name}' (expected one of {GENERATORS})")


def build_random_face_unet(model_dir, size="tiny", seed=0):
    """Save a random ``UNet2DModel`` + ``DDIMScheduler`` in the layout of the pretrained face model.

    ``full`` has the DDPM CelebA-HQ 256 architecture (for timing); ``tiny``
    works on 32 x 32 images.
    """
    import torch
    from diffusers import DDIMScheduler, UNet2DModel

    torch.manual_seed(seed)
    if size == "full":
        unet = UNet2DModel(
            sample_size=256, in_channels=3, out_channels=3, layers_per_block=2,
            block_out_channels=(128, 128, 256, 256, 512, 512),
            down_block_types=("DownBlock2D",) * 4 + ("AttnDownBlock2D", "DownBlock2D"),
            up_block_types=("UpBlock2D", "AttnUpBlock2D") + ("UpBlock2D",) * 4,
        )
    elif size == "tiny":
        unet = UNet2DModel(
            sample_size=32, in_channels=3, out_channels=3, layers_per_block=1, block_out_channels=(8, 16),
            down_block_types=("DownBlock2D", "DownBlock2D"), up_block_types=("UpBlock2D", "UpBlock2D"),
            norm_num_groups=4,
        )
    else:
        raise ValueError(f"unknown random face model size '{size}' (expected 'tiny' or 'full')")
    unet.save_pretrained(str(model_dir), safe_serialization=True)
    DDIMScheduler(num_train_timesteps=1000).save_pretrained(str(model_dir))
    return unet
