"""Face generators: where the replacement faces of major persons come from.

All generators return an (n, S, S, 3) uint8 array for n faces, deterministic
for a given seed, image id and face index (so shards and batch sizes never
change a face's noise). ``generate`` makes one image's faces;
``generate_many`` those of a sequence of images, and the diffusion generator
can sample them in batches of faces across images (one UNet call per batch,
not per image):

- ``diffusion``: an unconditional face diffusion model (diffusers
  ``UNet2DModel`` + ``DDIMScheduler``, e.g. a DDPM trained on CelebA-HQ),
  fetched as a model input and sampled with ``DDIMPipeline``'s loop, whose
  UNet may run in half precision (``half``).
- ``donor``: faces taken from a folder of synthetic donor face images.
- ``none``: no generator; rendering falls back to pixelating the face and
  says so in the decision log.
"""

import logging
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
HALF_DTYPES = ("float16", "bfloat16")  # what the diffusion UNet may run in besides float32
_log = logging.getLogger(__name__)


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

    def __init__(self, model_dir, steps, device, batch_size, half=None):
        """``half``: None (float32, the default), "bfloat16" or "float16" (CUDA only: elsewhere float32).

        Only the UNet forward runs in ``half``: the starting noise is drawn in
        float32 as without it (same seeds, same starting latents) and the DDIM
        step, the clamp and the uint8 conversion stay float32, so a face drifts
        from its float32 self only by the UNet's rounding (benchmarks/fake_precision.py).
        float16 is CUDA only because CPUs have no float16 convolutions: the full
        size UNet took minutes per step on CPU, against 3 s in float32.
        """
        import torch
        from diffusers import DDIMScheduler, UNet2DModel

        if half not in (None, *HALF_DTYPES):
            raise ValueError(f"half must be None, 'float16' or 'bfloat16', got {half!r}")
        self.device = torch.device(device)
        if half == "float16" and self.device.type != "cuda":
            _log.warning(
                "execution.half_precision float16 runs on CUDA only: the face UNet runs in float32 on %s", self.device
            )
            half = None
        self.half = half  # what the UNet runs in, after the fallback (None: float32)
        self.unet_dtype = getattr(torch, half) if half else torch.float32
        self.model_info = model_summary(verify_model("face_generator", model_dir))
        unet = UNet2DModel.from_pretrained(
            str(model_dir),
            use_safetensors=True,
            local_files_only=True,
            low_cpu_mem_usage=False,
            torch_dtype=self.unet_dtype,
        )
        self.unet = unet.eval().to(self.device)
        # DDIMPipeline's own conversion, so that a DDPM scheduler config samples as DDIM here too.
        scheduler = DDIMScheduler.from_pretrained(str(model_dir), local_files_only=True)
        self.scheduler = DDIMScheduler.from_config(scheduler.config)
        self.steps = steps
        self.batch_size = batch_size
        self.size = self.unet.config.sample_size

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
        """One (len(seeds), S, S, 3) uint8 batch, face k from seed k.

        ``DDIMPipeline.__call__`` with eta 0 and numpy output, step for step (in
        float32 the faces are its bytes), but with the UNet's input cast to
        ``unet_dtype`` and its output back to float32.
        """
        import torch
        from diffusers.utils.torch_utils import randn_tensor

        generators = [torch.Generator("cpu").manual_seed(seed) for seed in seeds]
        shape = (len(seeds), self.unet.config.in_channels, self.size, self.size)
        with torch.inference_mode():
            latents = randn_tensor(shape, generator=generators, device=self.device, dtype=torch.float32)
            self.scheduler.set_timesteps(self.steps)
            for timestep in self.scheduler.timesteps:
                noise = self.unet(latents.to(self.unet_dtype), timestep).sample.float()
                latents = self.scheduler.step(noise, timestep, latents, eta=0.0, generator=generators).prev_sample
            images = (latents / 2 + 0.5).clamp(0, 1).cpu().permute(0, 2, 3, 1).numpy()
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


@FACE_GENERATORS.register("diffusion", keys=("steps",), model="face_generator", device=True,
                          execution=("batch_size", "half_precision"))
def diffusion(params, model_dir):
    from ..devices import pick_device  # torch: only generators with a model load it

    half = "float16" if params.get("half_precision") else None  # execution.half_precision: CUDA only
    return DiffusionFaceGenerator(model_dir, params["steps"], pick_device(params["device"]), params["batch_size"], half)


@FACE_GENERATORS.register("donor", keys=("donor_folder",), required=("donor_folder",), execution=("max_image_pixels",))
def donor(params, model_dir):
    return DonorFaceGenerator(params["donor_folder"], params["max_image_pixels"])


@FACE_GENERATORS.register("none")
def none(params, model_dir):
    return NoFaceGenerator()

