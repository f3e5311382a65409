"""Scene relevance: Chefer et al.'s gradient rollout against a hand-written ViT pass, map scaling, preprocessing."""

import copy

import numpy as np
import pytest
import torch

from photoprivacy.models.offline.scene import build_random_vit
from photoprivacy.scene.relevance import (
    INTERPOLATIONS,
    ORIGINAL_PREPROCESSING,
    ScenePreprocessing,
    patch_grid,
    preprocess_scene,
    relevance_grid,
    scene_preprocessing,
)

from conftest import gradient_image

IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


@pytest.fixture(scope="module")
def tiny_vit():
    return build_random_vit("tiny", seed=0)


@pytest.fixture(scope="module")
def pixel_values():
    return preprocess_scene(gradient_image(180, 260, seed=3), ORIGINAL_PREPROCESSING)


def explicit_block(block, x, attention_maps):
    """One pre-norm ViT block from its own weights; keeps the attention tensor for autograd."""
    attn = block.attn
    batch, tokens, dim = x.shape
    qkv = attn.qkv(block.norm1(x)).reshape(batch, tokens, 3, attn.num_heads, attn.head_dim)
    q, k, v = qkv.permute(2, 0, 3, 1, 4)
    attention = torch.softmax(q @ k.transpose(-2, -1) * attn.scale, dim=-1)
    attention_maps.append(attention)
    mixed = (attention @ v).transpose(1, 2).reshape(batch, tokens, dim)
    x = x + attn.proj(mixed)
    return x + block.mlp(block.norm2(x))


def explicit_forward(model, x):
    """Logits and per-block attention maps, computed without the model's forward."""
    patches = model.patch_embed(x)
    tokens = torch.cat([model.cls_token.expand(x.shape[0], -1, -1), patches], dim=1) + model.pos_embed
    attention_maps = []
    for block in model.blocks:
        tokens = explicit_block(block, tokens, attention_maps)
    logits = model.head(model.norm(tokens)[:, 0])
    return logits, attention_maps


def explicit_relevance(model, x, class_index):
    logits, attention_maps = explicit_forward(model, x)
    gradients = torch.autograd.grad(logits[0, class_index], attention_maps)
    tokens = attention_maps[0].shape[-1]
    relevance = torch.eye(tokens)
    for attention, gradient in zip(attention_maps, gradients, strict=True):
        weighted = torch.clamp(gradient[0] * attention[0], min=0)  # (heads, tokens, tokens)
        cam = weighted.sum(dim=0) / weighted.shape[0]
        relevance = relevance + torch.matmul(cam, relevance)
    return relevance[0, 1:].reshape(14, 14).detach().numpy(), logits.detach()


def test_explicit_forward_matches_model(tiny_vit, pixel_values):
    with torch.no_grad():
        expected = tiny_vit(pixel_values)
        logits, _ = explicit_forward(tiny_vit, pixel_values)
    torch.testing.assert_close(logits, expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("choose", ["top", "other"])
def test_relevance_equals_explicit_rule(tiny_vit, pixel_values, choose):
    with torch.no_grad():
        ranked = tiny_vit(pixel_values)[0].argsort(descending=True)
    class_index = int(ranked[0] if choose == "top" else ranked[7])
    expected, _ = explicit_relevance(tiny_vit, pixel_values, class_index)
    assert np.abs(expected).max() > 0, "degenerate check: the explicit map is all zeros"

    grid, returned_index, _ = relevance_grid(tiny_vit, pixel_values, class_index)

    assert returned_index == class_index
    assert grid.dtype == np.float32
    # Both paths run the same float32 ops (timm scales q before q @ k^T; with a power-of-two scale
    # that is exact), so the maps agree to rounding.
    np.testing.assert_allclose(grid, expected, rtol=1e-5, atol=1e-6 * np.abs(expected).max())


def test_top_and_other_class_maps_differ(tiny_vit, pixel_values):
    top, top_index, logits = relevance_grid(tiny_vit, pixel_values)
    other, _, _ = relevance_grid(tiny_vit, pixel_values, (top_index + 1) % logits.size)
    assert not np.allclose(top, other)


def test_grid_shape_and_default_class_is_argmax(tiny_vit, pixel_values):
    grid, class_index, logits = relevance_grid(tiny_vit, pixel_values)
    assert patch_grid(tiny_vit) == (14, 14)
    assert grid.shape == (14, 14)
    assert logits.shape == (80,)
    assert class_index == int(np.argmax(logits))
    with torch.no_grad():
        np.testing.assert_allclose(logits, tiny_vit(pixel_values)[0].numpy(), rtol=1e-5, atol=1e-6)


def test_flags_and_grads_left_as_they_were(tiny_vit, pixel_values):
    for block in tiny_vit.blocks:
        block.attn.fused_attn = True
    tiny_vit.train()
    try:
        relevance_grid(tiny_vit, pixel_values)
        assert all(block.attn.fused_attn for block in tiny_vit.blocks)
        assert tiny_vit.training
        assert all(p.grad is None for p in tiny_vit.parameters())
    finally:
        tiny_vit.eval()


def test_map_does_not_depend_on_the_starting_fused_flags(tiny_vit, pixel_values):
    maps = {}
    for fused in (False, True):
        for block in tiny_vit.blocks:
            block.attn.fused_attn = fused
        maps[fused], _, _ = relevance_grid(tiny_vit, pixel_values)
        assert all(block.attn.fused_attn is fused for block in tiny_vit.blocks)
    np.testing.assert_array_equal(maps[False], maps[True])


def test_preprocess_shape_and_extremes():
    photo = preprocess_scene(gradient_image(120, 200), ORIGINAL_PREPROCESSING)
    assert photo.shape == (1, 3, 224, 224) and photo.dtype == torch.float32
    white = preprocess_scene(np.full((97, 131, 3), 255, dtype=np.uint8), ORIGINAL_PREPROCESSING)
    black = preprocess_scene(np.zeros((300, 200, 3), dtype=np.uint8), ORIGINAL_PREPROCESSING)
    assert torch.equal(white, torch.ones(1, 3, 224, 224))
    assert torch.equal(black, -torch.ones(1, 3, 224, 224))


def test_preprocess_rejects_non_rgb():
    with pytest.raises(ValueError):
        preprocess_scene(np.zeros((10, 10), dtype=np.uint8), ORIGINAL_PREPROCESSING)


def normalised(values, mean, std):
    """``(c / 255 - mean) / std`` of channel-first values in float32, in torchvision's order
    (x * (1/255), minus mean, over std)."""
    scaled = np.asarray(values, np.float32) * np.float32(1 / 255)
    mean, std = (np.asarray(values, np.float32).reshape((3,) + (1,) * (scaled.ndim - 1)) for values in (mean, std))
    return (scaled - mean) / std


def test_original_preprocessing_is_the_originals_input():
    assert ScenePreprocessing((224, 224), (0.5, 0.5, 0.5), (0.5, 0.5, 0.5), "bilinear") == ORIGINAL_PREPROCESSING
    assert ScenePreprocessing(224, [0.5] * 3, [0.5] * 3, "bilinear") == ORIGINAL_PREPROCESSING


def test_original_preprocessing_by_hand():
    # 448 -> 224 columns: antialiased bilinear averages 4 source columns with weights 1/8, 3/8, 3/8, 1/8.
    # A black | white edge at source column 224 gives 255/8 = 31.875 -> 32 at output 111 and
    # 255 * 7/8 = 223.125 -> 223 at output 112; every other column stays 0 or 255.
    image = np.zeros((4, 448, 3), dtype=np.uint8)
    image[:, 224:] = 255
    pixels = preprocess_scene(image, ORIGINAL_PREPROCESSING)
    row = np.full(224, 255.0)
    row[:111], row[111], row[112] = 0, 32, 223
    expected = normalised(np.broadcast_to(row, (3, 224, 224)), (0.5,) * 3, (0.5,) * 3)[None]
    assert torch.equal(pixels, torch.from_numpy(expected))


def test_original_preprocessing_is_the_code_it_replaced():
    # The scene input before preprocessing became configurable, verbatim; must stay bit-identical.
    from torchvision.transforms.v2 import InterpolationMode
    from torchvision.transforms.v2 import functional as TF

    image = np.random.default_rng(7).integers(0, 256, (137, 253, 3), dtype=np.uint8)
    chw = torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1)
    resized = TF.resize(chw, [224, 224], interpolation=InterpolationMode.BILINEAR, antialias=True)
    before = TF.normalize(TF.to_dtype(resized, torch.float32, scale=True), mean=[0.5] * 3, std=[0.5] * 3)
    assert torch.equal(preprocess_scene(image, ORIGINAL_PREPROCESSING), before.unsqueeze(0))


@pytest.mark.parametrize("interpolation", INTERPOLATIONS)
def test_constant_photo_gives_exactly_its_normalised_colour(interpolation):
    colour = (37, 128, 250)
    image = np.empty((97, 131, 3), dtype=np.uint8)
    image[:] = colour
    preprocessing = ScenePreprocessing((160, 128), IMAGENET_MEAN, IMAGENET_STD, interpolation)
    pixels = preprocess_scene(image, preprocessing)
    assert pixels.shape == (1, 3, 160, 128) and pixels.dtype == torch.float32
    expected = normalised(colour, IMAGENET_MEAN, IMAGENET_STD)
    assert torch.equal(pixels, torch.from_numpy(expected)[None, :, None, None].expand(1, 3, 160, 128))


def test_interpolation_is_the_one_asked_for():
    image = gradient_image(90, 70, seed=1)
    resized = {mode: preprocess_scene(image, ScenePreprocessing((64, 48), (0.5,) * 3, (0.5,) * 3, mode))
               for mode in INTERPOLATIONS}
    assert not torch.equal(resized["bilinear"], resized["bicubic"])
    assert not torch.equal(resized["bilinear"], resized["nearest"])


@pytest.mark.parametrize(
    "arguments, message",
    [
        (((224, 224), (0.5,) * 3, (0.5,) * 3, "lanczos"), "unsupported interpolation 'lanczos' .*bicubic"),
        (((224, 224), (0.5,) * 3, (0.5, 0.0, 0.5), "bilinear"), "std > 0"),
        (((224, 224), (0.5,) * 2, (0.5,) * 3, "bilinear"), "3 channels"),
        (((224, 0), (0.5,) * 3, (0.5,) * 3, "bilinear"), "height, width"),
    ],
)
def test_invalid_preprocessing_is_refused(arguments, message):
    with pytest.raises(ValueError, match=message):
        ScenePreprocessing(*arguments)


def test_unknown_mode_names_the_allowed_ones(tiny_vit):
    with pytest.raises(ValueError, match="unknown scene preprocessing 'imagenet' .*model, original"):
        scene_preprocessing(tiny_vit, "imagenet")


GPU = pytest.mark.skipif(not torch.cuda.is_available(), reason="no GPU")
PLACES = [("cpu", torch.float32), ("cpu", torch.float64), pytest.param("cuda", torch.float32, marks=GPU)]


@pytest.mark.parametrize(("device", "dtype"), PLACES)
def test_relevance_on_the_model_device_from_cpu_pixels(tiny_vit, pixel_values, device, dtype):
    # The scene stage hands float32 CPU pixel values to a model that may live elsewhere
    # (on CUDA this failed: "Input type (torch.FloatTensor) and weight type (torch.cuda.FloatTensor)").
    reference, index, logits = relevance_grid(tiny_vit, pixel_values)
    model = copy.deepcopy(tiny_vit).to(device, dtype)
    grid, moved_index, moved_logits = relevance_grid(model, pixel_values.cpu())
    assert moved_index == index
    np.testing.assert_allclose(grid, reference, rtol=1e-3, atol=1e-5)
    np.testing.assert_allclose(moved_logits, logits, rtol=1e-3, atol=1e-4)
