"""Relevance map of a timm ViT scene classifier (Chefer et al., transformer attribution).

"Transformer Interpretability Beyond Attention Visualization": gradient-weighted
attention rollout. Starting from ``R = I`` (tokens x tokens), each block, in
order, adds ``cam @ R`` where ``cam`` is the head mean of ``clamp(G * A, min=0)``,
``A`` the block's attention probabilities and ``G`` the gradient of the chosen
class logit with respect to them. The map is the class token's row of ``R``
without the prefix tokens, on the patch grid (14x14 for 224/16).

timm computes attention with ``F.scaled_dot_product_attention`` when an
``Attention`` module's ``fused_attn`` is on, and then the probabilities never
exist as a tensor. The relevance pass turns it off per module, catches the
softmax output as it leaves ``attn_drop`` (an identity in eval mode), and
restores the flags afterwards; nothing in timm is patched globally.
"""

import numpy as np
import torch
import torch.nn.functional as F

SCENE_CLASS_COUNT = 80  # the original fine-tuned its ViT-B/16 on 80 scene classes (SEED_NOTES)
SCENE_INPUT_SIZE = 224
SCENE_MEAN = (0.5, 0.5, 0.5)
SCENE_STD = (0.5, 0.5, 0.5)


def build_random_vit(size="tiny", num_classes=SCENE_CLASS_COUNT, seed=0):
    """A randomly initialised timm ViT; never pretrained, since no weights may be downloaded.

    ``full`` is vit_base_patch16_224's architecture, for timing. ``tiny`` keeps
    the 224/16 patch grid (14x14) with two narrow blocks so tests stay cheap.
    """
    import timm
    from timm.models.vision_transformer import VisionTransformer

    torch.manual_seed(seed)
    if size == "full":
        model = timm.create_model("vit_base_patch16_224", pretrained=False, num_classes=num_classes)
    elif size == "tiny":
        model = VisionTransformer(
            img_size=224, patch_size=16, embed_dim=32, depth=2, num_heads=2, mlp_ratio=2,
            num_classes=num_classes,
        )
    else:
        raise ValueError(f"unknown random ViT size '{size}' (expected 'tiny' or 'full')")
    return model.eval()


def preprocess_scene(image_uint8_hwc, size=SCENE_INPUT_SIZE):
    """The original's scene input: resize to size x size, scale to [0, 1], normalise with 0.5/0.5.

    Resizing is torchvision's antialiased bilinear on the uint8 image, rounded
    back to uint8 as PIL-then-ToTensor would, so a constant image stays exactly
    constant. Returns a (1, 3, size, size) float32 tensor in [-1, 1].
    """
    from torchvision.transforms.v2 import InterpolationMode
    from torchvision.transforms.v2 import functional as TF

    image = np.asarray(image_uint8_hwc)
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"expected a uint8 (H, W, 3) image, got {image.dtype} {image.shape}")
    chw = torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1)
    resized = TF.resize(chw, [size, size], interpolation=InterpolationMode.BILINEAR, antialias=True)
    scaled = TF.to_dtype(resized, torch.float32, scale=True)
    return TF.normalize(scaled, mean=list(SCENE_MEAN), std=list(SCENE_STD)).unsqueeze(0)


def patch_grid(model):
    """(rows, columns) of patch tokens the relevance map is laid out on."""
    rows, columns = model.patch_embed.grid_size
    return int(rows), int(columns)


def _attention_modules(model):
    modules = [block.attn for block in model.blocks]
    for index, module in enumerate(modules):
        if not hasattr(module, "fused_attn") or not hasattr(module, "attn_drop"):
            raise TypeError(
                f"blocks[{index}].attn is a {type(module).__name__}, not timm's Attention "
                "(needs fused_attn and attn_drop to expose attention probabilities)"
            )
    return modules


def _forward_capturing_attention(model, pixel_values, attention_modules):
    """Logits plus each block's attention probabilities, still in the autograd graph."""
    captured = []
    hooks = [
        module.attn_drop.register_forward_hook(lambda _module, _inputs, output: captured.append(output))
        for module in attention_modules
    ]
    try:
        logits = model(pixel_values)
    finally:
        for hook in hooks:
            hook.remove()
    if len(captured) != len(attention_modules):
        raise RuntimeError(f"caught {len(captured)} attention maps for {len(attention_modules)} blocks")
    return logits, captured


def rollout(attentions, gradients):
    """Chefer's rule on batch-1 (heads, tokens, tokens) attention maps and their gradients."""
    tokens = attentions[0].shape[-1]
    relevance = torch.eye(tokens, dtype=attentions[0].dtype, device=attentions[0].device)
    for attention, gradient in zip(attentions, gradients):
        cam = (gradient * attention).clamp(min=0).mean(dim=0)
        relevance = relevance + cam @ relevance
    return relevance


def relevance_grid(model, pixel_values, class_index=None):
    """Relevance of each patch for ``class_index`` (top class when None) on the patch grid.

    ``pixel_values`` is a (1, 3, H, W) tensor; see ``relevance_grids``.
    Returns ``(grid float32 (gh, gw), class_index, logits (num_classes,))``.
    """
    if pixel_values.ndim != 4 or pixel_values.shape[0] != 1:
        raise ValueError(f"expected pixel values of shape (1, 3, H, W), got {tuple(pixel_values.shape)}")
    grids, class_indices, logits = relevance_grids(model, pixel_values, None if class_index is None else [class_index])
    return grids[0], class_indices[0], logits[0]


def relevance_grids(model, pixel_values, class_indices=None):
    """``relevance_grid`` of each image of a (batch, 3, H, W) tensor, from one forward and one
    backward pass.

    Images in a batch do not interact in an eval-mode ViT (no batch statistics,
    dropout off), so the gradient of the sum of every image's chosen logit
    with respect to its own attention maps is the gradient of that image's
    logit alone; the rollout then runs per image. The maps equal one-image
    passes up to float rounding of the batched matrix products.

    ``class_indices``: one per image, or None for each image's top class.
    Gradients come from ``torch.autograd.grad`` on the attention maps only,
    so no parameter ``.grad`` is written; the input is a detached copy that
    requires grad so a graph exists even for a frozen model. The model runs
    in eval mode; its training flag and fused_attn flags are restored on return.
    Returns ``(grids float32 (batch, gh, gw), class indices [int], logits float32 (batch, num_classes))``.
    """
    if pixel_values.ndim != 4 or pixel_values.shape[0] < 1:
        raise ValueError(f"expected pixel values of shape (batch, 3, H, W), got {tuple(pixel_values.shape)}")
    batch = pixel_values.shape[0]
    if class_indices is not None and len(class_indices) != batch:
        raise ValueError(f"{len(class_indices)} class indices for {batch} images")
    attention_modules = _attention_modules(model)
    fused_before = [m.fused_attn for m in attention_modules]
    was_training = model.training
    try:
        for module in attention_modules:
            module.fused_attn = False
        model.eval()
        with torch.enable_grad():
            # On the model's device and dtype: the stage hands over CPU tensors (a CUDA model failed).
            parameter = next(model.parameters())
            inputs = pixel_values.detach().to(parameter.device, parameter.dtype).clone().requires_grad_(True)
            logits, attentions = _forward_capturing_attention(model, inputs, attention_modules)
            if class_indices is None:
                class_indices = logits.argmax(dim=1).tolist()
            class_indices = [int(index) for index in class_indices]
            chosen = logits[torch.arange(batch, device=logits.device), class_indices]
            gradients = torch.autograd.grad(chosen.sum(), attentions)
        with torch.no_grad():
            relevance = torch.stack([
                rollout([a[image] for a in attentions], [g[image] for g in gradients]) for image in range(batch)
            ])
    finally:
        for module, fused in zip(attention_modules, fused_before):
            module.fused_attn = fused
        model.train(was_training)
    cls_rows = relevance[:, 0, model.num_prefix_tokens:]
    grids = cls_rows.reshape(batch, *patch_grid(model)).float().cpu().numpy()
    return grids, class_indices, logits.detach().float().cpu().numpy()


def upsample_and_normalise(grid, height, width):
    """Bilinear upsampling (align_corners=False) then min-max scaling to [0, 1].

    A map with NaN/inf, or one that is constant (all zeros included), carries
    no ranking of pixels: it gives zeros and the reason, so the caller can log
    it instead of crashing. Returns ``(map float32 (height, width), reason)``.
    """
    values = np.asarray(grid, dtype=np.float32)
    empty = np.zeros((height, width), dtype=np.float32)
    if not np.isfinite(values).all():
        return empty, "relevance map has non-finite values"
    if values.size == 0 or values.max() == values.min():
        return empty, "relevance map is constant"
    upsampled = F.interpolate(
        torch.from_numpy(values)[None, None], size=(height, width), mode="bilinear", align_corners=False
    )[0, 0].numpy()
    low, span = upsampled.min(), upsampled.max() - upsampled.min()
    if not span > 0:
        return empty, "relevance map is constant"
    return ((upsampled - low) / span).astype(np.float32), None
