"""Relevance map of a timm ViT scene classifier: gradient-weighted attention rollout.

Chefer, Gur, Wolf, "Generic Attention-model Explainability for Interpreting
Bi-Modal and Encoder-Decoder Transformers" (ICCV 2021), the default. Starting
from ``R = I`` (tokens x tokens), each block, in order, adds ``cam @ R`` where
``cam`` is the head mean of ``clamp(G * A, min=0)``, ``A`` the block's
attention probabilities and ``G`` the gradient of the chosen class logit with
respect to them. The map is the class token's row of ``R`` without the prefix
tokens, on the patch grid (14x14 for 224/16). The original method used the
same authors' earlier LRP-based ``transformer_attribution`` (CVPR 2021), which
weighs each attention map by its relevance instead of the attention itself:
``lrp.py``.

timm computes attention with ``F.scaled_dot_product_attention`` when an
``Attention`` module's ``fused_attn`` is on, and then the probabilities never
exist as a tensor. The relevance pass turns it off per module, catches the
softmax output as it leaves ``attn_drop`` (an identity in eval mode), and
restores the flags afterwards; nothing in timm is patched globally.

The input is the photo as the model was trained to see it (its timm data config:
input size, mean, std, interpolation), or the original's 224 / 0.5 input to
reproduce the published numbers (``scene_preprocessing``).
"""

from dataclasses import dataclass

import numpy as np
import torch

from ..devices import to_device

# The original fine-tuned its ViT-B/16 on 80 scene classes (README, "Differences from the original").
SCENE_CLASS_COUNT = 80
INTERPOLATIONS = ("nearest", "bilinear", "bicubic")  # what torchvision resizes a uint8 tensor with
PREPROCESSING_MODES = ("model", "original")


@dataclass(frozen=True)
class ScenePreprocessing:
    """How a photo becomes classifier input: resize to ``size`` (height, width) with
    ``interpolation``, scale to [0, 1], then ``(x - mean) / std`` per RGB channel."""

    size: tuple
    mean: tuple
    std: tuple
    interpolation: str

    def __post_init__(self):
        size = (self.size, self.size) if isinstance(self.size, int) else tuple(int(v) for v in self.size)
        mean, std = tuple(float(v) for v in self.mean), tuple(float(v) for v in self.std)
        if len(size) != 2 or min(size) < 1:
            raise ValueError(f"input size must be (height, width) of positive ints, got {self.size}")
        if len(mean) != 3 or len(std) != 3 or not all(value > 0 for value in std):
            raise ValueError(f"mean and std need 3 channels and std > 0, got mean {self.mean}, std {self.std}")
        if self.interpolation not in INTERPOLATIONS:
            raise ValueError(
                f"unsupported interpolation '{self.interpolation}' (supported: {', '.join(INTERPOLATIONS)})"
            )
        object.__setattr__(self, "size", size)
        object.__setattr__(self, "mean", mean)
        object.__setattr__(self, "std", std)


# The original's ViT-B/16 input (224 x 224, mean = std = 0.5), resized bilinearly as this
# project always did: regenerates the published numbers whatever the model's own config says.
ORIGINAL_PREPROCESSING = ScenePreprocessing((224, 224), (0.5, 0.5, 0.5), (0.5, 0.5, 0.5), "bilinear")


def preprocess_scene(image_uint8_hwc, preprocessing):
    """Classifier input of one photo: a (1, 3, height, width) float32 tensor.

    ``preprocessing`` is a ``ScenePreprocessing``: ``scene_preprocessing(model, mode)`` for the mode of
    config.yaml's scene.preprocessing, or ``ORIGINAL_PREPROCESSING``.

    The photo is always squashed to the full input size, never cropped, whatever
    crop_pct / crop_mode the model's timm config gives: the relevance map is
    upsampled back onto the whole photo, so it has to cover all of it. Resizing is
    torchvision's antialiased resize on the uint8 image, rounded back to uint8 as
    PIL-then-ToTensor would, so a constant image stays exactly constant.
    """
    from torchvision.transforms.v2 import InterpolationMode
    from torchvision.transforms.v2 import functional as TF

    image = np.asarray(image_uint8_hwc)
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"expected a uint8 (H, W, 3) image, got {image.dtype} {image.shape}")
    chw = torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1)
    resized = TF.resize(
        chw, list(preprocessing.size), interpolation=InterpolationMode(preprocessing.interpolation), antialias=True
    )
    scaled = TF.to_dtype(resized, torch.float32, scale=True)
    return TF.normalize(scaled, mean=list(preprocessing.mean), std=list(preprocessing.std)).unsqueeze(0)


def model_preprocessing(model):
    """The preprocessing a timm model's own config asks for, as ``timm.data.resolve_model_data_config``
    resolves it (input size, mean, std, interpolation); its crop is not used (see ``preprocess_scene``).

    A model built without a ``pretrained_cfg`` gets timm's defaults (224, ImageNet mean/std, bicubic).
    """
    from timm.data import resolve_model_data_config

    data_config = resolve_model_data_config(model)
    try:
        return ScenePreprocessing(
            tuple(data_config["input_size"][-2:]), data_config["mean"], data_config["std"],
            data_config["interpolation"],
        )
    except ValueError as error:
        raise ValueError(f"the model's pretrained_cfg cannot be used for the scene stage: {error}") from None


def check_input_size(model, preprocessing):
    """Refuse a size the model's patch embedding was not built for.

    The relevance map is reshaped to the model's patch grid (``patch_grid``), so
    another size fails (fixed-size ViT) or silently misplaces the map (dynamic size).
    """
    built_for = getattr(getattr(model, "patch_embed", None), "img_size", None)
    if built_for is not None and tuple(int(v) for v in built_for) != preprocessing.size:
        raise ValueError(
            f"scene preprocessing resizes to {preprocessing.size[0]}x{preprocessing.size[1]} but the model takes "
            f"{built_for[0]}x{built_for[1]} images (its patch grid is {patch_grid(model)}); use "
            "preprocessing 'model' or a model built for that size"
        )


def scene_preprocessing(model, mode):
    """The preprocessing of ``mode``: "model" (the model's own config, ``model_preprocessing``)
    or "original" (``ORIGINAL_PREPROCESSING``, to reproduce the published numbers)."""
    if mode == "model":
        preprocessing = model_preprocessing(model)
    elif mode == "original":
        preprocessing = ORIGINAL_PREPROCESSING
    else:
        raise ValueError(f"unknown scene preprocessing '{mode}' (expected one of: {', '.join(PREPROCESSING_MODES)})")
    check_input_size(model, preprocessing)
    return preprocessing


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


def rollout(weights, gradients):
    """Chefer's rollout ``(I + cam_last) @ ... @ (I + cam_first)`` per image, where ``cam`` is the
    head mean of ``clamp(weight * gradient, min=0)``.

    Inputs: one (batch, heads, tokens, tokens) tensor per block, in block order. ``weights`` are
    the attention probabilities (gradient rollout) or their LRP relevance (``lrp.py``). No row
    normalisation (the authors' code has it commented out). Returns (batch, tokens, tokens).
    """
    first = weights[0]
    joint = torch.eye(first.shape[-1], dtype=first.dtype, device=first.device).expand(first.shape[0], -1, -1)
    for weight, gradient in zip(weights, gradients, strict=True):
        cam = (weight * gradient).clamp(min=0).mean(dim=1)
        joint = joint + cam @ joint
    return joint


def class_token_grids(model, joint):
    """The class token's rows of a (batch, tokens, tokens) rollout without the prefix tokens, on the
    patch grid: float32 numpy (batch, gh, gw)."""
    rows = joint[:, 0, model.num_prefix_tokens:]
    return rows.reshape(rows.shape[0], *patch_grid(model)).float().cpu().numpy()


def validated_indices(class_indices, batch, num_classes):
    """``class_indices`` as ints, one per image and in range; None stays None (each image's top class)."""
    if class_indices is None:
        return None
    if len(class_indices) != batch:
        raise ValueError(f"{len(class_indices)} class indices for {batch} images")
    indices = [int(index) for index in class_indices]
    if any(not 0 <= index < num_classes for index in indices):
        raise ValueError(f"class indices {indices} outside [0, {num_classes})")
    return indices


def attention_gradients(model, pixel_values, class_indices=None):
    """One forward pass of a (batch, 3, H, W) tensor and the gradient of each image's chosen logit
    with respect to every block's attention probabilities.

    Images in a batch do not interact in an eval-mode ViT (no batch statistics,
    dropout off), so the gradient of the sum of every image's chosen logit
    with respect to its own attention maps is the gradient of that image's
    logit alone. ``class_indices``: one per image, or None for each image's top
    class. Gradients come from ``torch.autograd.grad`` on the attention maps
    only, so no parameter ``.grad`` is written; the input is a detached copy on
    the model's device and dtype that requires grad, so a graph exists even for
    a frozen model. Forward hooks a caller registers see this one forward pass.
    The model runs in eval mode; its training flag and fused_attn flags are
    restored on return. Returns ``(logits, class indices [int], attentions,
    gradients)``, the last two one (batch, heads, tokens, tokens) tensor per block.
    """
    if pixel_values.ndim != 4 or pixel_values.shape[0] < 1:
        raise ValueError(f"expected pixel values of shape (batch, 3, H, W), got {tuple(pixel_values.shape)}")
    batch = pixel_values.shape[0]
    class_indices = validated_indices(class_indices, batch, model.num_classes)
    attention_modules = _attention_modules(model)
    fused_before = [m.fused_attn for m in attention_modules]
    was_training = model.training
    try:
        for module in attention_modules:
            module.fused_attn = False
        model.eval()
        with torch.enable_grad():
            # On the model's device and dtype: the stage hands over CPU tensors (pinned for a CUDA model).
            parameter = next(model.parameters())
            inputs = to_device(pixel_values.detach(), parameter.device, parameter.dtype).clone().requires_grad_(True)
            logits, attentions = _forward_capturing_attention(model, inputs, attention_modules)
            if class_indices is None:
                class_indices = logits.argmax(dim=1).tolist()
            chosen = logits[torch.arange(batch, device=logits.device), class_indices]
            gradients = torch.autograd.grad(chosen.sum(), attentions)
    finally:
        for module, fused in zip(attention_modules, fused_before, strict=True):
            module.fused_attn = fused
        model.train(was_training)
    return logits.detach(), class_indices, [a.detach() for a in attentions], list(gradients)


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
    backward pass (``attention_gradients``), rolled out per image: the maps equal one-image
    passes up to float rounding of the batched matrix products.

    ``class_indices``: one per image, or None for each image's top class.
    Returns ``(grids float32 (batch, gh, gw), class indices [int], logits float32 (batch, num_classes))``.
    """
    logits, class_indices, attentions, gradients = attention_gradients(model, pixel_values, class_indices)
    with torch.no_grad():
        joint = rollout(attentions, gradients)
    return class_token_grids(model, joint), class_indices, logits.float().cpu().numpy()
