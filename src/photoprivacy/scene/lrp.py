"""Transformer attribution (Chefer, Gur, Wolf, CVPR 2021) for a timm ViT scene classifier.

"Transformer Interpretability Beyond Attention Visualization", method
``transformer_attribution`` of the authors' public code. Unlike the gradient
rollout in ``relevance.py`` (their ICCV 2021 method, ``gradient * attention``),
each block's attention map is weighted by its LRP relevance:

1. one forward pass; the gradient of the chosen logit with respect to every
   block's attention probabilities;
2. LRP relevance from the one-hot vector of the chosen class back through the
   head (a Linear), the class-token selection, the final LayerNorm and the
   blocks in reverse; the attention relevance of a block is the relevance of
   the probabilities ``A`` as operand of ``A @ V``;
3. per block ``cam = mean over heads of clamp(relevance * gradient, min=0)``,
   rolled out as ``(I + cam_last) @ ... @ (I + cam_first)``; the map is the
   class token's row without the prefix tokens, on the patch grid.

The layer rules are the authors' (their ``layers_ours.py``), written here in
closed form: Linear is LRP-alpha1-beta0 without bias; LayerNorm, GELU,
softmax and dropout pass relevance through; a residual sum splits it in
proportion to each operand's share; a matmul gives each operand half; the two
copies of a residual branch point add up. Nothing in timm is patched: module
inputs and outputs are caught with forward hooks during the single forward
pass, and the attention probabilities as ``relevance.py`` catches them.
"""

from typing import NamedTuple

import torch

from .relevance import attention_gradients, class_token_grids, rollout

STABILISER = 1e-9  # the authors' safe_divide constant


class RelevancePass(NamedTuple):
    """What one forward pass and the LRP pass give; per-block lists are in block order."""

    attention_relevances: list  # (batch, heads, tokens, tokens) per block
    attention_gradients: list  # the chosen logit's gradient, same shapes
    logits: torch.Tensor  # (batch, num_classes)
    class_indices: list  # [int]
    token_relevance: torch.Tensor | None  # (batch, tokens, dim) at the first block's input, if asked for


# --- layer rules -------------------------------------------------------------------------------


def safe_divide(a, b):
    """``a / b`` where ``b != 0`` and 0 elsewhere, as the authors' ``safe_divide``.

    Their denominator is ``b.clamp(min=eps) + b.clamp(max=eps)``, which is
    ``b + eps`` for every ``b`` (not a sign-aware stabiliser); only where that is
    exactly zero (``b == -eps``) is ``eps`` added once more.
    """
    den = b.clamp(min=STABILISER) + b.clamp(max=STABILISER)
    den = den + den.eq(0).to(den.dtype) * STABILISER
    return a / den * b.ne(0).to(b.dtype)


def linear_relevance(x, weight, relevance):
    """LRP-alpha1-beta0 through ``x @ weight.T`` (bias ignored): relevance of ``x``.

    Only the positive contributions ``x+ w+`` and ``x- w-`` share an output's
    relevance, so relevance is conserved wherever an output has any.
    ``x`` (..., in), ``weight`` (out, in), ``relevance`` (..., out).
    """
    w_pos, w_neg = weight.clamp(min=0), weight.clamp(max=0)
    x_pos, x_neg = x.clamp(min=0), x.clamp(max=0)
    s = safe_divide(relevance, x_pos @ w_pos.T + x_neg @ w_neg.T)
    return x_pos * (s @ w_pos) + x_neg * (s @ w_neg)


def add_relevance(a, b, relevance):
    """Relevance of the two operands of a residual sum ``a + b``, each image on its own.

    Each operand first gets ``x * R / (a + b)``; the two parts are then
    rescaled so that their totals are ``|sum_a| / (|sum_a| + |sum_b|)`` and
    ``|sum_b| / (...)`` of ``sum R``, which conserves relevance exactly. Sums
    run over all but the first (batch) axis: the authors' code summed the
    whole tensor of its batch-1 input.
    """
    s = safe_divide(relevance, a + b)
    part_a, part_b = a * s, b * s
    axes = tuple(range(1, relevance.ndim))
    sum_a, sum_b = part_a.sum(axes, keepdim=True), part_b.sum(axes, keepdim=True)
    total = relevance.sum(axes, keepdim=True)
    both = sum_a.abs() + sum_b.abs()
    share_a = safe_divide(sum_a.abs(), both) * total
    share_b = safe_divide(sum_b.abs(), both) * total
    return part_a * safe_divide(share_a, sum_a), part_b * safe_divide(share_b, sum_b)


def matmul_relevance(a, b, relevance):
    """Relevance of both operands of ``a @ b`` (batched on leading axes), each halved.

    Each operand's own rule (``x * grad(Z, x, R / Z)``) hands it all of ``R``;
    the authors' attention halves both so that the two together conserve it.
    """
    s = safe_divide(relevance, a @ b)
    return a * (s @ b.transpose(-2, -1)) / 2, b * (a.transpose(-2, -1) @ s) / 2


def clone_relevance(x, *relevances):
    """Relevance of ``x`` used in several places: the copies' relevances add up (where ``x != 0``)."""
    return x * sum(safe_divide(r, x) for r in relevances)


def token_relevance(tokens, relevance, index=0):
    """Relevance of (batch, tokens, dim) ``tokens`` when only ``tokens[:, index]`` was kept.

    The pooled token passes its (batch, dim) relevance on (where it is
    nonzero); every other token gets none.
    """
    out = torch.zeros_like(tokens)
    kept = tokens[:, index]
    out[:, index] = kept * safe_divide(relevance, kept)
    return out


# --- the model -------------------------------------------------------------------------------


def check_supported(model):
    """Raise TypeError/ValueError naming what the rules do not cover in ``model``.

    Supported: timm's VisionTransformer, class-token pooling, pre-norm Blocks
    with timm's Attention (no q/k norm, no gate) and Mlp, no LayerScale, a
    Linear head. Dropout and DropPath are fine (identities in eval mode).
    """
    from timm.layers import Attention, Mlp
    from timm.models.vision_transformer import Block, VisionTransformer

    if not isinstance(model, VisionTransformer):
        raise TypeError(f"transformer attribution needs timm's VisionTransformer, got {type(model).__name__}")
    if model.cls_token is None or model.global_pool != "token" or model.attn_pool is not None:
        raise ValueError(
            "transformer attribution needs class-token pooling (global_pool='token', a class token, "
            f"no attention pool); got global_pool={model.global_pool!r}, "
            f"class token {'present' if model.cls_token is not None else 'absent'}"
        )
    for name in ("norm_pre", "fc_norm"):
        if not isinstance(getattr(model, name), torch.nn.Identity):
            raise ValueError(f"unsupported model.{name}: {type(getattr(model, name)).__name__} (needs Identity)")
    if not isinstance(model.norm, (torch.nn.LayerNorm, torch.nn.Identity)):
        raise TypeError(f"unsupported final norm {type(model.norm).__name__} (needs LayerNorm)")
    if not isinstance(model.head, torch.nn.Linear):
        raise TypeError(f"unsupported head {type(model.head).__name__} (needs a Linear classifier)")
    for index, block in enumerate(model.blocks):
        where = f"blocks[{index}]"
        if type(block) is not Block:
            raise TypeError(f"{where} is a {type(block).__name__}, not timm's pre-norm Block")
        if not (isinstance(block.ls1, torch.nn.Identity) and isinstance(block.ls2, torch.nn.Identity)):
            raise ValueError(f"{where} uses LayerScale (init_values), which the rules do not cover")
        for name in ("norm1", "norm2"):
            if not isinstance(getattr(block, name), torch.nn.LayerNorm):
                raise TypeError(f"{where}.{name} is a {type(getattr(block, name)).__name__}, not a LayerNorm")
        attn, mlp = block.attn, block.mlp
        if type(attn) is not Attention:
            raise TypeError(f"{where}.attn is a {type(attn).__name__}, not timm's Attention")
        for name in ("q_norm", "k_norm", "norm"):
            if not isinstance(getattr(attn, name), torch.nn.Identity):
                raise ValueError(f"{where}.attn.{name} is set (qk_norm/scale_norm), which the rules do not cover")
        if getattr(attn, "gate", None) is not None:
            raise ValueError(f"{where}.attn is gated, which the rules do not cover")
        if type(mlp) is not Mlp or not isinstance(mlp.fc1, torch.nn.Linear) or not isinstance(mlp.fc2, torch.nn.Linear):
            raise TypeError(f"{where}.mlp is a {type(mlp).__name__}, not timm's Mlp with Linear layers")
        if not isinstance(mlp.norm, torch.nn.Identity):
            raise ValueError(f"{where}.mlp.norm is set (scale_mlp_norm), which the rules do not cover")


# (name, submodule path, "in" or "out"): what each block's rules read, caught by forward hooks.
_BLOCK_TAPS = (
    ("x_in", "norm1", "in"),
    ("qkv_in", "attn.qkv", "in"),
    ("qkv_out", "attn.qkv", "out"),
    ("proj_in", "attn.proj", "in"),
    ("attn_out", "attn", "out"),
    ("x_mid", "norm2", "in"),
    ("fc1_in", "mlp.fc1", "in"),
    ("fc2_in", "mlp.fc2", "in"),
    ("mlp_out", "mlp", "out"),
)


def _tap_hooks(model, dtype):
    """Forward hooks storing, detached and in ``dtype``, what the rules read; (taps per block, features, hooks)."""
    taps = [{} for _ in model.blocks]
    features = {}
    hooks = []

    def keep(store, name, which):
        def hook(_module, inputs, output):
            store[name] = (inputs[0] if which == "in" else output).detach().to(dtype)
        return hook

    for block, store in zip(model.blocks, taps, strict=True):
        for name, path, which in _BLOCK_TAPS:
            hooks.append(block.get_submodule(path).register_forward_hook(keep(store, name, which)))
    hooks.append(model.norm.register_forward_hook(keep(features, "tokens", "out")))
    return taps, features, hooks


def _weight(linear, dtype):
    return linear.weight.detach().to(dtype)


def _block_relevance(block, taps, relevance, to_input=True):
    """LRP through one pre-norm block, output to input, in the authors' order.

    Returns ``(relevance of the block input or None, attention relevance
    (batch, heads, tokens, tokens))``. Below the attention probabilities (q, k,
    qkv, norm1, the residual merge) is only needed for the blocks before.
    """
    attn, mlp = block.attn, block.mlp
    dtype = relevance.dtype
    residual, branch = add_relevance(taps["x_mid"], taps["mlp_out"], relevance)
    branch = linear_relevance(taps["fc2_in"], _weight(mlp.fc2, dtype), branch)
    branch = linear_relevance(taps["fc1_in"], _weight(mlp.fc1, dtype), branch)  # GELU: identity
    relevance = clone_relevance(taps["x_mid"], residual, branch)  # norm2: identity

    residual, branch = add_relevance(taps["x_in"], taps["attn_out"], relevance)
    branch = linear_relevance(taps["proj_in"], _weight(attn.proj, dtype), branch)
    batch, tokens, _ = branch.shape
    branch = branch.reshape(batch, tokens, attn.num_heads, attn.head_dim).transpose(1, 2)
    # q, k, v exactly as timm's Attention.forward splits the qkv output.
    qkv = taps["qkv_out"].reshape(batch, tokens, 3, attn.num_heads, attn.head_dim).permute(2, 0, 3, 1, 4)
    q, k, v = qkv.unbind(0)
    attention = taps["attention"]
    attention_relevance, value_relevance = matmul_relevance(attention, v, branch)
    if not to_input:
        return None, attention_relevance
    # Softmax and attention dropout: identity. The q scale is not a layer of its own (the authors'
    # matmul rule sees the unscaled q, and scaling q leaves x * R / Z unchanged but for eps).
    query_relevance, key_relevance = matmul_relevance(q, k.transpose(-2, -1), attention_relevance)
    qkv_relevance = torch.stack([query_relevance, key_relevance.transpose(-2, -1), value_relevance])
    qkv_relevance = qkv_relevance.permute(1, 3, 0, 2, 4).reshape(batch, tokens, -1)
    branch = linear_relevance(taps["qkv_in"], _weight(attn.qkv, dtype), qkv_relevance)
    return clone_relevance(taps["x_in"], residual, branch), attention_relevance  # norm1: identity


def relevance_pass(model, pixel_values, class_indices=None, to_tokens=False):
    """One forward pass, the attention gradients and the LRP pass down to the first block's attention.

    ``pixel_values`` (batch, 3, H, W) go to the model's device and dtype (a
    detached copy that requires grad, so a frozen model still has a graph);
    the relevance runs in at least float32, since the rules' 1e-9 vanishes in
    half precision. Relevance starts as the one-hot vector of each image's
    class (``class_indices``, or the top class when None). ``to_tokens`` also
    propagates through the first block to its input. The model runs in eval
    mode; its training flag and fused_attn flags are restored. Returns a
    ``RelevancePass``.
    """
    check_supported(model)
    work = torch.promote_types(next(model.parameters()).dtype, torch.float32)
    taps, features, hooks = _tap_hooks(model, work)
    try:
        logits, class_indices, attentions, gradients = attention_gradients(model, pixel_values, class_indices)
    finally:
        for hook in hooks:
            hook.remove()
    batch = logits.shape[0]

    with torch.no_grad():
        for store, attention in zip(taps, attentions, strict=True):
            store["attention"] = attention.to(work)
        tokens = features["tokens"]
        relevance = torch.zeros(batch, model.head.out_features, dtype=work, device=tokens.device)
        relevance[torch.arange(batch, device=tokens.device), class_indices] = 1
        relevance = linear_relevance(tokens[:, 0], _weight(model.head, work), relevance)
        relevance = token_relevance(tokens, relevance, 0)  # then the final norm: identity
        attention_relevances = [None] * len(model.blocks)
        for index in reversed(range(len(model.blocks))):
            relevance, attention_relevances[index] = _block_relevance(
                model.blocks[index], taps[index], relevance, to_input=index > 0 or to_tokens)
    return RelevancePass(
        attention_relevances=attention_relevances,
        attention_gradients=[gradient.to(work) for gradient in gradients],
        logits=logits,
        class_indices=class_indices,
        token_relevance=relevance if to_tokens else None,
    )


def transformer_attribution_grids(model, pixel_values, class_indices=None):
    """Chefer et al.'s transformer attribution of each image of a (batch, 3, H, W) tensor.

    The same contract as ``relevance.relevance_grids``, so the stage can
    switch methods: ``class_indices`` one per image or None for each image's
    top class; one forward pass for the batch, relevance per image (images do
    not interact in an eval-mode ViT). See ``relevance_pass``.
    Returns ``(grids float32 (batch, gh, gw) numpy, class indices [int], logits float32 (batch, num_classes) numpy)``.
    """
    result = relevance_pass(model, pixel_values, class_indices)
    with torch.no_grad():
        joint = rollout(result.attention_relevances, result.attention_gradients)
    return class_token_grids(model, joint), result.class_indices, result.logits.float().cpu().numpy()
