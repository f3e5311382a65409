"""Face generators: where the replacement faces of major persons come from.

All generators return an (n, S, S, 3) uint8 array for n faces, deterministic
for a given seed, image id and face index (so shards and batch sizes never
change a face's noise). ``generate`` makes one image's faces;
``generate_many`` those of a sequence of images, and the diffusion generator
can sample them in batches of faces across images (one UNet call per batch,
not per image):

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
from ..models.families import verify_model
from ..models.store import model_summary
from ..registry import Registry
from ..seeds import derived_seed

# fakes.generator -> a builder (fakes stage params, model folder or None) -> generator.
FACE_GENERATORS = Registry("face generator", "fakes.generator")
DONOR_SIZE = 128
DONOR_EXTENSIONS = (".jpg", ".jpeg", ".png", ".webp")


def face_seed(seed, image_id, face_index):
    """A 63-bit seed of its own for every face."""
    return derived_seed(seed, image_id, face_index)


class FaceGenerator:
    """What every generator offers; ``generate_many`` defaults to one ``generate`` per image."""

    batch_size = None  # faces per call across images that the fakes stage asks for (None: per image)

    def generate(self, image_id, n_faces, seed):
        raise NotImplementedError

    def generate_many(self, requests, seed, batch_size=None):
        """For each ``(image_id, n_faces)`` of ``requests``, in order, yield what ``generate`` gives."""
        for image_id, n_faces in requests:
            yield self.generate(image_id, n_faces, seed)


class DiffusionFaceGenerator(FaceGenerator):
    name = "diffusion"

    def __init__(self, model_dir, steps, device, batch_size):
        import torch
        from diffusers import DDIMPipeline, DDIMScheduler, UNet2DModel

        self.model_info = model_summary(verify_model("face_generator", model_dir))
        unet = UNet2DModel.from_pretrained(
            str(model_dir), use_safetensors=True, local_files_only=True, low_cpu_mem_usage=False
        )
        scheduler = DDIMScheduler.from_pretrained(str(model_dir), local_files_only=True)
        self.device = torch.device(device)
        self.pipeline = DDIMPipeline(unet=unet.eval(), scheduler=scheduler).to(self.device)
        self.pipeline.set_progress_bar_config(disable=True)
        self.steps = steps
        self.batch_size = batch_size
        self.size = unet.config.sample_size

    def generate(self, image_id, n_faces, seed):
        if n_faces == 0:
            return np.zeros((0, self.size, self.size, 3), np.uint8)
        return self._sample([face_seed(seed, image_id, index) for index in range(n_faces)])

    def generate_many(self, requests, seed, batch_size=None):
        """``generate`` for each ``(image_id, n_faces)``, in order.

        ``batch_size`` None: one UNet call per image, for all its faces (what
        ``generate`` does). An int: calls of up to ``batch_size`` faces taken
        across images in order, each image yielded once all its faces are
        sampled. Each face's starting noise comes from its own generator
        (``face_seed``) and DDIM with eta 0 adds no other noise, so batching
        changes a face only by the float rounding of batched convolutions:
        measured on CPU, at most one level in about 0.01% of its values (full
        size UNet, batches of 4 against one face per call). Those values then
        depend on which faces share a call, so a workflow that batches across
        images should list the batch size among the stage's parameters.
        """
        if batch_size is None:
            yield from super().generate_many(requests, seed)
            return
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        requests = list(requests)
        wanted = [(slot, index) for slot, (_, n_faces) in enumerate(requests) for index in range(n_faces)]
        missing = [n_faces for _, n_faces in requests]
        faces = {}  # slot -> its faces, until handed over
        ready = 0

        def finished():
            nonlocal ready
            while ready < len(requests) and missing[ready] == 0:
                image_id, n_faces = requests[ready]
                yield faces.pop(ready) if n_faces else self.generate(image_id, 0, seed)
                ready += 1

        for start in range(0, len(wanted), batch_size):
            yield from finished()  # written while the next batch samples
            chunk = wanted[start : start + batch_size]
            sampled = self._sample([face_seed(seed, requests[slot][0], index) for slot, index in chunk])
            for (slot, index), face in zip(chunk, sampled, strict=True):
                if slot not in faces:
                    faces[slot] = np.empty((requests[slot][1], *face.shape), face.dtype)
                faces[slot][index] = face
                missing[slot] -= 1
        yield from finished()

    def _sample(self, seeds):
        """One (len(seeds), S, S, 3) uint8 batch from one pipeline call, face k from seed k."""
        import torch

        generators = [torch.Generator("cpu").manual_seed(seed) for seed in seeds]
        with torch.inference_mode():
            images = self.pipeline(
                batch_size=len(seeds), generator=generators, num_inference_steps=self.steps, eta=0.0,
                output_type="np",
            ).images
        return np.clip(np.rint(images * 255), 0, 255).astype(np.uint8)


class DonorFaceGenerator(FaceGenerator):
    name = "donor"

    def __init__(self, folder, max_pixels, size=DONOR_SIZE):
        folder = Path(folder or "")
        self.donors = (
            sorted(p for p in folder.glob("*") if p.suffix.lower() in DONOR_EXTENSIONS) if folder.is_dir() else []
        )
        if not self.donors:
            raise ConfigError(f"config key fakes.donor_folder: no donor face images in '{folder}'")
        self.size = size
        self.max_pixels = max_pixels
        self.model_info = {"source": "donors", "id": str(folder), "revision": None}

    def generate(self, image_id, n_faces, seed):
        import cv2

        faces = np.zeros((n_faces, self.size, self.size, 3), np.uint8)
        for index in range(n_faces):
            rng = np.random.default_rng(face_seed(seed, image_id, index))
            donor = load_rgb(self.donors[int(rng.integers(len(self.donors)))], self.max_pixels)
            side = min(donor.shape[:2])
            top, left = (donor.shape[0] - side) // 2, (donor.shape[1] - side) // 2
            square = donor[top : top + side, left : left + side]
            faces[index] = cv2.resize(square, (self.size, self.size), interpolation=cv2.INTER_AREA)
        return faces


class NoFaceGenerator(FaceGenerator):
    name = "none"
    model_info = None

    def generate(self, image_id, n_faces, seed):
        return np.zeros((0, 1, 1, 3), np.uint8)


@FACE_GENERATORS.register("diffusion")
def diffusion(params, model_dir):
    from ..devices import pick_device  # torch: only generators with a model load it

    return DiffusionFaceGenerator(model_dir, params["steps"], pick_device(params["device"]), params["batch_size"])


@FACE_GENERATORS.register("donor")
def donor(params, model_dir):
    return DonorFaceGenerator(params["donor_folder"], params["max_image_pixels"])


@FACE_GENERATORS.register("none")
def none(params, model_dir):
    return NoFaceGenerator()


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
