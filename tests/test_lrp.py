"""Transformer attribution (Chefer et al., CVPR 2021): the LRP rules by hand, against autograd,
the whole method against an explicit ViT pass, and where it differs from the gradient rollout."""

import copy

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from photoprivacy.models.offline.scene import build_random_vit
from photoprivacy.scene.lrp import (
    add_relevance,
    check_supported,
    clone_relevance,
    linear_relevance,
    matmul_relevance,
    relevance_pass,
    safe_divide,
    token_relevance,
    transformer_attribution_grids,
)
from photoprivacy.scene.relevance import (
    ORIGINAL_PREPROCESSING,
    preprocess_scene,
    relevance_grids,
    rollout,
)

from conftest import gradient_image

EPS = 1e-9


def t(values):
    return torch.tensor(values, dtype=torch.float64)


def close(actual, expected):
    torch.testing.assert_close(actual, t(expected), rtol=1e-7, atol=1e-9)


@pytest.fixture(scope="module")
def tiny_vit():
    return build_random_vit("tiny", num_classes=5, seed=0)


@pytest.fixture(scope="module")
def pixel_values():
    first = preprocess_scene(gradient_image(180, 260, seed=3), ORIGINAL_PREPROCESSING)
    second = preprocess_scene(gradient_image(240, 200, seed=4).transpose(1, 0, 2).copy(), ORIGINAL_PREPROCESSING)
    return torch.cat([first, second])


# --- layer rules by hand -----------------------------------------------------------------------


def test_safe_divide_zero_denominators_and_the_stabiliser():
    close(safe_divide(t([1.0, 2.0, 3.0, 0.0]), t([2.0, 0.0, -4.0, 0.0])), [1 / (2 + EPS), 0.0, 3 / (-4 + EPS), 0.0])
    # The authors' denominator is b + eps for any sign; only b == -eps makes it zero, then eps is added.
    close(safe_divide(t([1.0]), t([-EPS])), [1e9])


def test_linear_two_by_two_mixed_signs():
    # x+ = [1, 0], x- = [0, -2]; Z1 = x+ W+^T = [1, 2], Z2 = x- W-^T = [2, 0]; S = R / Z = [0.2, 0.5].
    # x+ * (S @ W+) = [1.2, 0]; x- * (S @ W-) = [0, -2 * -0.2] = [0, 0.4]. The inhibiting -2 * 3 is ignored.
    relevance = linear_relevance(t([[1.0, -2.0]]), t([[1.0, -1.0], [2.0, 3.0]]), t([[0.6, 1.0]]))
    close(relevance, [[1.2, 0.4]])


def test_linear_two_by_three_inhibiting_input_gets_nothing():
    # x[1] = -1 meets only positive weights (2, 1): its contributions inhibit, so alpha1-beta0 gives it 0.
    # Z = [1, 2], S = [1, 0.5]; x+ * (S @ W+) = [1, 0, 2] * [1, 2.5, 0.5] = [1, 0, 1].
    relevance = linear_relevance(t([[1.0, -1.0, 2.0]]), t([[1.0, 2.0, -1.0], [-1.0, 1.0, 1.0]]), t([[1.0, 1.0]]))
    close(relevance, [[1.0, 0.0, 1.0]])


def test_linear_output_without_contributions_loses_its_relevance():
    # Input zero: Z1 + Z2 = 0 at both outputs, safe_divide gives 0.
    close(linear_relevance(t([[0.0, 0.0]]), t([[1.0, 2.0], [3.0, 4.0]]), t([[1.0, 1.0]])), [[0.0, 0.0]])


def test_add_shares_follow_absolute_sums():
    # Z = [-1, 2], S = [-1, 0.5]; a * S = [-2, 0.5] (sum -1.5), b * S = [3, 0.5] (sum 3.5).
    # Shares of R.sum() = 2: 1.5 / 5 * 2 = 0.6 and 3.5 / 5 * 2 = 1.4, so a * S is scaled by 0.6 / -1.5.
    part_a, part_b = add_relevance(t([[2.0, 1.0]]), t([[-3.0, 1.0]]), t([[1.0, 1.0]]))
    close(part_a, [[0.8, -0.2]])
    close(part_b, [[1.2, 0.2]])


def test_add_operand_with_zero_sum_gets_nothing():
    # a * S = [0.5, 1.5] (sum 2), b * S = [0.5, -0.5] (sum 0): a keeps all of R.sum() = 2.
    part_a, part_b = add_relevance(t([[1.0, 3.0]]), t([[1.0, -1.0]]), t([[1.0, 1.0]]))
    close(part_a, [[0.5, 1.5]])
    close(part_b, [[0.0, 0.0]])


def test_add_sums_are_per_image():
    a, b, relevance = t([[2.0, 1.0], [1.0, 1.0]]), t([[-3.0, 1.0], [1.0, 1.0]]), t([[1.0, 1.0], [4.0, 0.0]])
    part_a, part_b = add_relevance(a, b, relevance)
    for image in range(2):
        alone_a, alone_b = add_relevance(a[image:image + 1], b[image:image + 1], relevance[image:image + 1])
        torch.testing.assert_close(part_a[image:image + 1], alone_a)
        torch.testing.assert_close(part_b[image:image + 1], alone_b)
    close(part_a[1:], [[2.0, 0.0]])
    close(part_b[1:], [[2.0, 0.0]])


def test_matmul_halves_by_hand():
    # Z = 11, S = 2: a * (S b^T) / 2 = [1, 2] * [6, 8] / 2, b * (a^T S) / 2 = [3, 4] * [2, 4] / 2.
    part_a, part_b = matmul_relevance(t([[1.0, 2.0]]), t([[3.0], [4.0]]), t([[22.0]]))
    close(part_a, [[3.0, 8.0]])
    close(part_b, [[3.0], [8.0]])


def test_matmul_mixed_signs_and_a_zero_product():
    # Z = a @ b = [[0, 3], [3, 3]]; R's 5 sits on Z = 0 and is lost; S = [[0, 1], [2, 0]].
    a, b = t([[1.0, -1.0], [2.0, 1.0]]), t([[1.0, 2.0], [1.0, -1.0]])
    part_a, part_b = matmul_relevance(a, b, t([[5.0, 3.0], [6.0, 0.0]]))
    close(part_a, [[1.0, 0.5], [2.0, 1.0]])
    close(part_b, [[2.0, 1.0], [1.0, 0.5]])


def test_clone_adds_copies_except_where_x_is_zero():
    # x = -1 gives -1 * (1 / -1 + -1 / -1) = 0: the copies' relevances (1 and -1) cancel.
    close(clone_relevance(t([[2.0, 0.0, -1.0]]), t([[1.0, 1.0, 1.0]]), t([[0.5, 2.0, -1.0]])), [[1.5, 0.0, 0.0]])


def test_class_token_selection_sends_relevance_to_token_zero():
    tokens = t([[[2.0, 0.0], [5.0, 5.0], [7.0, 7.0]]])
    close(token_relevance(tokens, t([[0.3, 0.7]])), [[[0.3, 0.0], [0.0, 0.0], [0.0, 0.0]]])


def test_rollout_by_hand_multiplies_later_blocks_on_the_left():
    # Gradients all 2, so R * G is 2R. Block 1 heads: clamp -> [[2, 0], [0, 2]] and [[0, 4], [0, 0]], mean
    # [[1, 2], [0, 1]]; block 2: mean of [[0, 2], [0, 0]] and [[0, 0], [2, 0]] = [[0, 1], [1, 0]].
    # (I + cam2) @ (I + cam1) = [[1, 1], [1, 1]] @ [[2, 2], [0, 2]] = [[2, 4], [2, 4]].
    first = t([[[[2.0, -1.0], [0.0, 2.0]], [[0.0, 4.0], [-2.0, 0.0]]]]) / 2
    second = t([[[[0.0, 2.0], [0.0, -1.0]], [[0.0, 0.0], [2.0, 0.0]]]]) / 2
    gradients = [torch.full_like(first, 2.0)] * 2
    close(rollout([first, second], gradients), [[[2.0, 4.0], [2.0, 4.0]]])


# --- conservation ------------------------------------------------------------------------------


def test_conservation_of_each_rule():
    generator = torch.Generator().manual_seed(0)
    x = torch.rand(3, 4, 6, generator=generator, dtype=torch.float64) + 0.1
    weight = torch.randn(5, 6, generator=generator, dtype=torch.float64)
    relevance = torch.rand(3, 4, 5, generator=generator, dtype=torch.float64)
    torch.testing.assert_close(linear_relevance(x, weight, relevance).sum(), relevance.sum(), rtol=1e-7, atol=0)

    a, b = torch.randn(2, 3, 7, 4, generator=generator, dtype=torch.float64).unbind(0)
    relevance = torch.randn(3, 7, 4, generator=generator, dtype=torch.float64)
    part_a, part_b = add_relevance(a, b, relevance)  # exactly each image's total, signs mixed
    torch.testing.assert_close(part_a.sum((1, 2)) + part_b.sum((1, 2)), relevance.sum((1, 2)))

    copies = torch.randn(2, 3, 7, 4, generator=generator, dtype=torch.float64)
    torch.testing.assert_close(clone_relevance(a, *copies).sum(), copies.sum())

    left = torch.rand(2, 3, 4, 5, generator=generator, dtype=torch.float64) + 0.1
    right = torch.rand(2, 3, 5, 4, generator=generator, dtype=torch.float64) + 0.1
    relevance = torch.rand(2, 3, 4, 4, generator=generator, dtype=torch.float64)
    part_left, part_right = matmul_relevance(left, right, relevance)
    torch.testing.assert_close(part_left.sum(), relevance.sum() / 2)
    torch.testing.assert_close(part_right.sum(), relevance.sum() / 2)


def test_whole_model_conserves_relevance_down_to_the_first_block_input(tiny_vit, pixel_values):
    # Every rule conserves (the add exactly, matmuls 1/4 + 1/4 + 1/2 into qkv), so the one-hot's 1 arrives.
    result = relevance_pass(tiny_vit, pixel_values, to_tokens=True)
    np.testing.assert_allclose(result.token_relevance.sum(dim=(1, 2)).numpy(), [1.0, 1.0], rtol=1e-4)


# --- closed forms against an autograd formulation of the same rules ----------------------------


def simple_rule(forward, inputs, relevance):
    """The authors' RelPropSimple: x_i * grad(Z, x_i, R / Z) for each input."""
    inputs = [x.detach().requires_grad_(True) for x in inputs]
    output = forward(*inputs)
    grads = torch.autograd.grad(output, inputs, safe_divide(relevance, output))
    return [x.detach() * g for x, g in zip(inputs, grads, strict=True)]


def autograd_linear(x, weight, relevance):
    x_pos = x.clamp(min=0).detach().requires_grad_(True)
    x_neg = x.clamp(max=0).detach().requires_grad_(True)
    z_pos, z_neg = F.linear(x_pos, weight.clamp(min=0)), F.linear(x_neg, weight.clamp(max=0))
    s = safe_divide(relevance, z_pos + z_neg)
    return x_pos * torch.autograd.grad(z_pos, x_pos, s)[0] + x_neg * torch.autograd.grad(z_neg, x_neg, s)[0]


def autograd_add(a, b, relevance):
    part_a, part_b = simple_rule(torch.add, [a, b], relevance)
    sum_a, sum_b = part_a.sum(), part_b.sum()
    share_a = safe_divide(sum_a.abs(), sum_a.abs() + sum_b.abs()) * relevance.sum()
    share_b = safe_divide(sum_b.abs(), sum_a.abs() + sum_b.abs()) * relevance.sum()
    return part_a * safe_divide(share_a, sum_a), part_b * safe_divide(share_b, sum_b)


def autograd_matmul(equation, a, b, relevance):
    part_a, part_b = simple_rule(lambda x, y: torch.einsum(equation, x, y), [a, b], relevance)
    return part_a / 2, part_b / 2


def autograd_clone(x, *relevances):
    x = x.detach().requires_grad_(True)
    copies = [x * 1 for _ in relevances]
    grads = torch.autograd.grad(copies, x, [safe_divide(r, x) for r in relevances])
    return x.detach() * grads[0]


def test_closed_forms_equal_autograd_rules():
    generator = torch.Generator().manual_seed(1)

    def randn(*shape):
        return torch.randn(*shape, generator=generator, dtype=torch.float64)

    x, weight, relevance = randn(2, 5, 6), randn(4, 6), randn(2, 5, 4)
    torch.testing.assert_close(linear_relevance(x, weight, relevance), autograd_linear(x, weight, relevance))
    a, b, relevance = randn(1, 5, 6), randn(1, 5, 6), randn(1, 5, 6)
    for mine, theirs in zip(add_relevance(a, b, relevance), autograd_add(a, b, relevance), strict=True):
        torch.testing.assert_close(mine, theirs)
    attention, value, relevance = randn(2, 3, 5, 5).softmax(-1), randn(2, 3, 5, 4), randn(2, 3, 5, 4)
    for mine, theirs in zip(matmul_relevance(attention, value, relevance),
                            autograd_matmul("bhij,bhjd->bhid", attention, value, relevance), strict=True):
        torch.testing.assert_close(mine, theirs)
    q, k, relevance = randn(2, 3, 5, 4), randn(2, 3, 5, 4), randn(2, 3, 5, 5)
    part_q, part_kt = matmul_relevance(q, k.transpose(-2, -1), relevance)
    theirs_q, theirs_k = autograd_matmul("bhid,bhjd->bhij", q, k, relevance)
    torch.testing.assert_close(part_q, theirs_q)
    torch.testing.assert_close(part_kt.transpose(-2, -1), theirs_k)
    x, copies = randn(2, 5, 6), randn(2, 2, 5, 6)
    torch.testing.assert_close(clone_relevance(x, *copies), autograd_clone(x, *copies))
    tokens, relevance = randn(2, 5, 6), randn(2, 6)
    selected = simple_rule(lambda v: v.index_select(1, torch.tensor([0])), [tokens], relevance[:, None])[0]
    torch.testing.assert_close(token_relevance(tokens, relevance), selected)


# --- the whole method --------------------------------------------------------------------------


def explicit_transformer_attribution(model, pixels, class_index):
    """The method on a hand-written forward of one image, with the autograd rules above."""
    batch = pixels.shape[0]
    x = model.patch_embed(pixels)
    x = torch.cat([model.cls_token.expand(batch, -1, -1), x], dim=1) + model.pos_embed
    saved = []
    for block in model.blocks:
        attn, step = block.attn, {"x_in": x}
        step["qkv_in"] = block.norm1(x)
        qkv = attn.qkv(step["qkv_in"])
        step["qkv"] = qkv
        q, k, v = qkv.reshape(batch, -1, 3, attn.num_heads, attn.head_dim).permute(2, 0, 3, 1, 4)
        step["attention"] = attention = torch.softmax(q @ k.transpose(-2, -1) * attn.scale, dim=-1)
        step["proj_in"] = (attention @ v).transpose(1, 2).reshape(batch, -1, attn.num_heads * attn.head_dim)
        step["attn_out"] = attn.proj(step["proj_in"])
        step["x_mid"] = x = x + step["attn_out"]
        step["fc1_in"] = block.norm2(x)
        step["fc2_in"] = block.mlp.act(block.mlp.fc1(step["fc1_in"]))
        step["mlp_out"] = block.mlp.fc2(step["fc2_in"])
        x = x + step["mlp_out"]
        saved.append(step)
    features = model.norm(x)
    logits = model.head(features[:, 0])
    gradients = torch.autograd.grad(logits[0, class_index], [step["attention"] for step in saved])

    one_hot = torch.zeros_like(logits)
    one_hot[0, class_index] = 1
    r = autograd_linear(features[:, 0].detach(), model.head.weight.detach(), one_hot)
    r = simple_rule(lambda v: v.index_select(1, torch.tensor([0])), [features.detach()], r[:, None])[0]
    cams = [None] * len(saved)
    for index in reversed(range(len(saved))):
        block, step = model.blocks[index], {key: value.detach() for key, value in saved[index].items()}
        attn, heads, head_dim = block.attn, block.attn.num_heads, block.attn.head_dim
        residual, branch = autograd_add(step["x_mid"], step["mlp_out"], r)
        branch = autograd_linear(step["fc2_in"], block.mlp.fc2.weight.detach(), branch)
        branch = autograd_linear(step["fc1_in"], block.mlp.fc1.weight.detach(), branch)
        r = autograd_clone(step["x_mid"], residual, branch)
        residual, branch = autograd_add(step["x_in"], step["attn_out"], r)
        branch = autograd_linear(step["proj_in"], attn.proj.weight.detach(), branch)
        branch = branch.reshape(batch, -1, heads, head_dim).transpose(1, 2)
        q, k, v = step["qkv"].reshape(batch, -1, 3, heads, head_dim).permute(2, 0, 3, 1, 4)
        cam_attention, cam_v = autograd_matmul("bhij,bhjd->bhid", step["attention"], v, branch)
        cams[index] = (cam_attention * gradients[index]).clamp(min=0).mean(dim=1)[0]
        cam_q, cam_k = autograd_matmul("bhid,bhjd->bhij", q, k, cam_attention)
        cam_qkv = torch.stack([cam_q, cam_k, cam_v]).permute(1, 3, 0, 2, 4).reshape(batch, -1, 3 * heads * head_dim)
        branch = autograd_linear(step["qkv_in"], attn.qkv.weight.detach(), cam_qkv)
        r = autograd_clone(step["x_in"], residual, branch)
    joint = torch.eye(cams[0].shape[0], dtype=cams[0].dtype)
    for cam in cams:
        joint = (torch.eye(cam.shape[0], dtype=cam.dtype) + cam) @ joint
    return joint[0, 1:].reshape(14, 14).numpy(), logits.detach()[0]


@pytest.mark.parametrize("choose", ["top", "other"])
def test_equals_explicit_pass_with_autograd_rules(tiny_vit, pixel_values, choose):
    model = copy.deepcopy(tiny_vit).double()
    pixels = pixel_values[:1].double()
    with torch.no_grad():
        ranked = model(pixels)[0].argsort(descending=True)
    class_index = int(ranked[0] if choose == "top" else ranked[3])
    expected, logits = explicit_transformer_attribution(model, pixels, class_index)
    assert np.abs(expected).max() > 0, "degenerate check: the explicit map is all zeros"

    grids, indices, returned_logits = transformer_attribution_grids(model, pixels, [class_index])

    assert indices == [class_index]
    np.testing.assert_allclose(returned_logits[0], logits.numpy(), rtol=1e-6)
    np.testing.assert_allclose(grids[0], expected, rtol=1e-6, atol=1e-9 * np.abs(expected).max())


def test_batch_equals_single_images(tiny_vit, pixel_values):
    grids, indices, logits = transformer_attribution_grids(tiny_vit, pixel_values)
    assert grids.shape == (2, 14, 14) and grids.dtype == np.float32 and logits.dtype == np.float32
    assert np.isfinite(grids).all() and grids.max() > 0
    for image in range(2):
        alone, alone_indices, alone_logits = transformer_attribution_grids(tiny_vit, pixel_values[image:image + 1])
        assert alone_indices == [indices[image]]
        np.testing.assert_allclose(grids[image], alone[0], rtol=1e-5, atol=1e-5 * np.abs(alone).max())
        np.testing.assert_allclose(logits[image], alone_logits[0], rtol=1e-5, atol=1e-6)


def test_default_class_is_argmax_and_logits_are_the_models(tiny_vit, pixel_values):
    _, indices, logits = transformer_attribution_grids(tiny_vit, pixel_values)
    assert logits.shape == (2, 5)
    assert indices == logits.argmax(axis=1).tolist()
    with torch.no_grad():
        np.testing.assert_allclose(logits, tiny_vit(pixel_values).numpy(), rtol=1e-5, atol=1e-6)


def test_explicit_class_changes_the_map(tiny_vit, pixel_values):
    top, indices, _ = transformer_attribution_grids(tiny_vit, pixel_values[:1])
    other, other_indices, _ = transformer_attribution_grids(tiny_vit, pixel_values[:1], [(indices[0] + 1) % 5])
    assert other_indices == [(indices[0] + 1) % 5]
    assert not np.allclose(top, other, rtol=1e-3, atol=0)


def test_bad_class_indices_rejected(tiny_vit, pixel_values):
    with pytest.raises(ValueError, match="2 images"):
        transformer_attribution_grids(tiny_vit, pixel_values, [0])
    with pytest.raises(ValueError, match="outside"):
        transformer_attribution_grids(tiny_vit, pixel_values, [0, 5])


def test_flags_and_grads_left_as_they_were(tiny_vit, pixel_values):
    model = copy.deepcopy(tiny_vit)
    model.blocks[0].attn.fused_attn, model.blocks[1].attn.fused_attn = True, False
    model.train()
    transformer_attribution_grids(model, pixel_values[:1])
    assert [block.attn.fused_attn for block in model.blocks] == [True, False]
    assert model.training
    assert all(p.grad is None for p in model.parameters())
    assert not any(module._forward_hooks for module in model.modules())


def test_float64_model_from_float32_pixels(tiny_vit, pixel_values):
    reference, indices, _ = transformer_attribution_grids(tiny_vit, pixel_values[:1])
    grids, moved_indices, _ = transformer_attribution_grids(copy.deepcopy(tiny_vit).double(), pixel_values[:1])
    assert moved_indices == indices and grids.dtype == np.float32
    np.testing.assert_allclose(grids, reference, rtol=1e-3, atol=1e-4 * np.abs(reference).max())


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no GPU")
def test_cuda_model_from_cpu_pixels(tiny_vit, pixel_values):
    reference, indices, _ = transformer_attribution_grids(tiny_vit, pixel_values)
    grids, moved_indices, _ = transformer_attribution_grids(copy.deepcopy(tiny_vit).cuda(), pixel_values)
    assert moved_indices == indices
    np.testing.assert_allclose(grids, reference, rtol=1e-3, atol=1e-4 * np.abs(reference).max())


def small_vit(**kwargs):
    from timm.models.vision_transformer import VisionTransformer

    settings = dict(img_size=32, patch_size=16, embed_dim=8, depth=1, num_heads=2, num_classes=3)
    return VisionTransformer(**{**settings, **kwargs}).eval()


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"global_pool": "avg"}, ValueError, "class-token pooling"),
        ({"global_pool": "avg", "class_token": False}, ValueError, "class token absent"),
        ({"init_values": 1e-5}, ValueError, "LayerScale"),
        ({"qk_norm": True}, ValueError, "q_norm"),
        ({"num_classes": 0}, TypeError, "Linear classifier"),
    ],
)
def test_unsupported_models_named(kwargs, error, message):
    model = small_vit(**kwargs)
    with pytest.raises(error, match=message):
        transformer_attribution_grids(model, torch.zeros(1, 3, 32, 32))


def test_not_a_vit_is_a_type_error():
    with pytest.raises(TypeError, match="VisionTransformer"):
        check_supported(torch.nn.Linear(2, 2))


# --- against the gradient rollout of relevance.py ----------------------------------------------


def inhibiting_values(model):
    """Every block's values constant and positive, every proj weight negative.

    The attention output (rows of A sum to 1) is then the positive bias, and
    each of its contributions through proj is negative: alpha1-beta0 LRP hands
    the attention probabilities no relevance at all. The logit's gradient with
    respect to them, g_out . v, is untouched by such sign arguments.
    """
    model = copy.deepcopy(model)
    with torch.no_grad():
        for block in model.blocks:
            attn = block.attn
            values = slice(2 * attn.attn_dim, 3 * attn.attn_dim)
            attn.qkv.weight[values] = 0
            attn.qkv.bias[values] = torch.linspace(0.5, 1.5, attn.attn_dim)
            attn.proj.weight.copy_(-attn.proj.weight.abs())
    return model


def test_inhibiting_attention_has_no_lrp_relevance_but_a_gradient_rollout(tiny_vit, pixel_values):
    model = inhibiting_values(tiny_vit)
    pixels = pixel_values[:1]
    gradient_maps = []
    for class_index in range(5):
        result = relevance_pass(model, pixels, [class_index])
        assert all(torch.count_nonzero(r) == 0 for r in result.attention_relevances)
        lrp, _, _ = transformer_attribution_grids(model, pixels, [class_index])
        assert not lrp.any()
        gradient_map, _, _ = relevance_grids(model, pixels, [class_index])
        gradient_maps.append(gradient_map[0])
    assert max(np.abs(grid).max() for grid in gradient_maps) > 0


def test_maps_of_a_random_vit_are_not_proportional(tiny_vit, pixel_values):
    lrp, indices, _ = transformer_attribution_grids(tiny_vit, pixel_values)
    gradient, gradient_indices, _ = relevance_grids(tiny_vit, pixel_values)
    assert indices == gradient_indices
    for ours, theirs in zip(lrp.astype(np.float64), gradient.astype(np.float64), strict=True):
        scale = (ours * theirs).sum() / (theirs * theirs).sum()  # least-squares fit ours ~ scale * theirs
        residual = np.linalg.norm(ours - scale * theirs) / np.linalg.norm(ours)
        assert residual > 0.1
