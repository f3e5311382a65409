"""Scene relevance: Chefer et al.'s rule against a hand-written ViT pass, map scaling, preprocessing."""

import copy

import numpy as np
import pytest
import torch

from conftest import gradient_image
from photoprivacy.scene.relevance import (
    build_random_vit,
    patch_grid,
    preprocess_scene,
    relevance_grid,
    upsample_and_normalise,
)


@pytest.fixture(scope="module")
def tiny_vit():
    return build_random_vit("tiny", seed=0)


@pytest.fixture(scope="module")
def pixel_values():
    return preprocess_scene(gradient_image(180, 260, seed=3))


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
    for attention, gradient in zip(attention_maps, gradients):
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


def test_upsample_shape_and_range():
    grid = np.random.default_rng(0).random((14, 14)).astype(np.float32)
    scaled, reason = upsample_and_normalise(grid, 224, 300)
    assert reason is None
    assert scaled.shape == (224, 300) and scaled.dtype == np.float32
    assert scaled.min() == 0.0 and scaled.max() == 1.0


def test_upsample_same_size_is_identity_then_min_max():
    scaled, reason = upsample_and_normalise(np.array([[1.0, 3.0], [5.0, 9.0]]), 2, 2)
    assert reason is None
    np.testing.assert_allclose(scaled, [[0.0, 0.25], [0.5, 1.0]], rtol=0, atol=1e-7)


def test_upsample_doubling_a_row_by_hand():
    # align_corners=False, 1x2 -> 1x4: output x maps to source x/2 - 0.25, clamped at the edges,
    # so the values are 0, 0.25 * 4, 0.75 * 4, 4 -> min-max [0, 0.25, 0.75, 1].
    scaled, reason = upsample_and_normalise(np.array([[0.0, 4.0]]), 1, 4)
    assert reason is None
    np.testing.assert_allclose(scaled, [[0.0, 0.25, 0.75, 1.0]], rtol=0, atol=1e-7)


@pytest.mark.parametrize(
    "grid, reason",
    [
        (np.full((14, 14), 0.3), "relevance map is constant"),
        (np.zeros((14, 14)), "relevance map is constant"),
        (np.where(np.eye(14) > 0, np.nan, 1.0), "relevance map has non-finite values"),
        (np.where(np.eye(14) > 0, np.inf, 1.0), "relevance map has non-finite values"),
    ],
)
def test_degenerate_maps_give_zeros_and_reason(grid, reason):
    scaled, found = upsample_and_normalise(grid, 32, 48)
    assert found == reason
    assert scaled.shape == (32, 48) and scaled.dtype == np.float32
    assert not scaled.any()


def test_preprocess_shape_and_extremes():
    photo = preprocess_scene(gradient_image(120, 200))
    assert photo.shape == (1, 3, 224, 224) and photo.dtype == torch.float32
    white = preprocess_scene(np.full((97, 131, 3), 255, dtype=np.uint8))
    black = preprocess_scene(np.zeros((300, 200, 3), dtype=np.uint8))
    assert torch.equal(white, torch.ones(1, 3, 224, 224))
    assert torch.equal(black, -torch.ones(1, 3, 224, 224))


def test_preprocess_rejects_non_rgb():
    with pytest.raises(ValueError):
        preprocess_scene(np.zeros((10, 10), dtype=np.uint8))


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
