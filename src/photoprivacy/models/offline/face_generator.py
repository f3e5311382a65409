"""A random face diffusion model (diffusers ``UNet2DModel`` + ``DDIMScheduler``), as
``faces.generators.DiffusionFaceGenerator`` loads it."""

import torch


def build_random_face_unet(model_dir, size="tiny", seed=0):
    """Save a random ``UNet2DModel`` + ``DDIMScheduler`` in the layout of the pretrained face model.

    ``full`` has the DDPM CelebA-HQ 256 architecture (for timing); ``tiny``
    works on 32 x 32 images.
    """
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
