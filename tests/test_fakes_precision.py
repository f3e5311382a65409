"""The diffusion face generator with its UNet in half precision (execution.half_precision)."""

import logging

import numpy as np
import pytest
import torch

from photoprivacy.faces.generators import DiffusionFaceGenerator, diffusion, face_seed

STEPS = 2  # a random UNet's rounding grows fast with DDIM steps; two steps keep the bounds meaningful


@pytest.fixture(scope="module")
def tiny_face_model(offline_model_dir):
    return offline_model_dir("face_generator")


def drift(faces, reference):
    return np.abs(faces.astype(np.int16) - reference.astype(np.int16))


def first_unet_input(generator, n_faces):
    """What the UNet gets at the first step of ``generate("photo", n_faces, seed=0)``."""
    inputs = []
    hook = generator.unet.register_forward_pre_hook(lambda module, args: inputs.append(args[0].clone()))
    try:
        generator.generate("photo", n_faces, seed=0)
    finally:
        hook.remove()
    return inputs[0]


def test_float32_faces_are_ddim_pipeline_bytes(tiny_face_model):
    from diffusers import DDIMPipeline, DDIMScheduler, UNet2DModel

    unet = UNet2DModel.from_pretrained(str(tiny_face_model), use_safetensors=True, local_files_only=True)
    scheduler = DDIMScheduler.from_pretrained(str(tiny_face_model), local_files_only=True)
    pipeline = DDIMPipeline(unet=unet.eval(), scheduler=scheduler)
    pipeline.set_progress_bar_config(disable=True)
    generators = [torch.Generator("cpu").manual_seed(face_seed(0, "photo", index)) for index in range(3)]
    images = pipeline(batch_size=3, generator=generators, num_inference_steps=5, eta=0.0, output_type="np").images
    expected = np.clip(np.rint(images * 255), 0, 255).astype(np.uint8)

    generator = DiffusionFaceGenerator(tiny_face_model, 5, "cpu", None)
    assert generator.half is None and generator.unet.dtype == torch.float32
    np.testing.assert_array_equal(generator.generate("photo", 3, seed=0), expected)


def half_precision_drift(model, device, half):
    """Per-value drift of 4 faces in ``half`` against float32, after checking the faces'
    dtype, shape and that the same seed gives the same bytes."""
    reference = DiffusionFaceGenerator(model, STEPS, device, None).generate("photo", 4, seed=0)
    generator = DiffusionFaceGenerator(model, STEPS, device, None, half=half)
    assert generator.half == half and generator.unet.dtype == getattr(torch, half)
    faces = generator.generate("photo", 4, seed=0)
    assert faces.shape == (4, 32, 32, 3) and faces.dtype == np.uint8
    np.testing.assert_array_equal(generator.generate("photo", 4, seed=0), faces)
    return drift(faces, reference)


def test_bfloat16_faces_drift_a_bounded_amount_and_are_deterministic(tiny_face_model):
    # Measured (tiny random UNet, 2 steps, seeds 0-2): max 7-8 levels, mean 0.25-0.28, 2.3-3.0% of
    # values off by more than 2. The bounds leave about twice that.
    difference = half_precision_drift(tiny_face_model, "cpu", "bfloat16")
    assert 0 < difference.max() <= 16
    assert difference.mean() <= 0.6
    assert (difference > 2).mean() <= 0.06


def test_half_precision_starts_from_the_float32_noise(tiny_face_model):
    float32 = first_unet_input(DiffusionFaceGenerator(tiny_face_model, STEPS, "cpu", None), 3)
    bfloat16 = first_unet_input(DiffusionFaceGenerator(tiny_face_model, STEPS, "cpu", None, half="bfloat16"), 3)
    assert float32.dtype == torch.float32 and bfloat16.dtype == torch.bfloat16
    assert torch.equal(bfloat16, float32.to(torch.bfloat16))


def test_batches_of_32_faces_across_images_match_one_call_per_image(tiny_face_model):
    generator = DiffusionFaceGenerator(tiny_face_model, STEPS, "cpu", None, half="bfloat16")
    requests = [(f"photo{index}", n_faces) for index, n_faces in enumerate([5, 0, 20, 1, 14, 3])]  # 43 faces
    calls = []
    sample = generator._sample

    def counted(seeds):
        calls.append(len(seeds))
        return sample(seeds)

    generator._sample = counted
    batched = list(generator.generate_many(requests, 0, batch_size=32))
    assert calls == [32, 11]
    per_image = list(generator.generate_many(requests, 0))
    assert [len(faces) for faces in batched] == [5, 0, 20, 1, 14, 3]
    for faces, alone in zip(batched, per_image, strict=True):
        assert faces.shape == alone.shape and faces.dtype == np.uint8
        # The same faces up to the rounding of batched convolutions (measured here: the same bytes).
        assert drift(faces, alone).max(initial=0) <= 2


def test_diffusion_reads_execution_half_precision(tiny_face_model):
    params = {"steps": STEPS, "device": "cpu", "batch_size": None}
    assert diffusion(params, tiny_face_model).half is None  # key absent: float32
    assert diffusion(dict(params, half_precision=False), tiny_face_model).half is None
    assert diffusion(dict(params, half_precision=True), tiny_face_model).half is None  # float16: CUDA only


def test_float16_off_cuda_falls_back_to_float32_with_a_warning(tiny_face_model, caplog):
    with caplog.at_level(logging.WARNING, logger="photoprivacy.faces.generators"):
        generator = DiffusionFaceGenerator(tiny_face_model, STEPS, "cpu", None, half="float16")
    assert generator.half is None and generator.unet.dtype == torch.float32
    assert "float16 runs on CUDA only" in caplog.text
    reference = DiffusionFaceGenerator(tiny_face_model, STEPS, "cpu", None)
    np.testing.assert_array_equal(generator.generate("photo", 2, seed=0), reference.generate("photo", 2, seed=0))
    with pytest.raises(ValueError, match="half must be None, 'float16' or 'bfloat16'"):
        DiffusionFaceGenerator(tiny_face_model, STEPS, "cpu", None, half="float32")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="float16 runs on CUDA only")
def test_float16_on_cuda_drifts_a_bounded_amount(tiny_face_model):
    # float16 keeps 3 more mantissa bits than bfloat16: its drift stays within bfloat16's bounds.
    difference = half_precision_drift(tiny_face_model, "cuda", "float16")
    assert difference.max() <= 16 and difference.mean() <= 0.6
