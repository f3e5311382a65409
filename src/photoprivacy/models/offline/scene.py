"""A random timm ViT scene classifier, saved as ``scene.classifier`` loads it."""

import torch

from ...scene.classifier import imagenet_label_names, save_scene_classifier
from ...scene.relevance import ORIGINAL_PREPROCESSING, SCENE_CLASS_COUNT

DEFAULT_ARCHITECTURE = "vit_base_patch16_224"
TINY_SCENE_LABELS = ("beach", "kitchen", "office", "street", "airport terminal")
# The tiny ViT as timm.create_model arguments on top of vit_base_patch16_224.
TINY_VIT_ARGS = {"embed_dim": 32, "depth": 2, "num_heads": 2, "mlp_ratio": 2}


def build_random_vit(size="tiny", num_classes=SCENE_CLASS_COUNT, seed=0):
    """A randomly initialised timm ViT; never pretrained, since no weights may be downloaded.

    ``full`` is vit_base_patch16_224's architecture, for timing. ``tiny`` keeps
    the 224/16 patch grid (14x14) with two narrow blocks so tests stay cheap.
    """
    import timm
    from timm.models.vision_transformer import VisionTransformer

    torch.manual_seed(seed)
    if size == "full":
        model = timm.create_model(DEFAULT_ARCHITECTURE, pretrained=False, num_classes=num_classes)
    elif size == "tiny":
        model = VisionTransformer(img_size=224, patch_size=16, **TINY_VIT_ARGS, num_classes=num_classes)
    else:
        raise ValueError(f"unknown random ViT size '{size}' (expected 'tiny' or 'full')")
    return model.eval()


def build_random_scene_classifier(model_dir, size="tiny", seed=0):
    """Save a randomly initialised ViT classifier to ``model_dir`` (offline stand-in for the hub model).

    ``tiny`` has five scene labels and build_random_vit's narrow two-block ViT;
    ``full`` is vit_base_patch16_224 with the 1000 ImageNet labels of the
    pretrained default.
    """
    if size == "tiny":
        label_names, model_args = list(TINY_SCENE_LABELS), TINY_VIT_ARGS
    elif size == "full":
        label_names = imagenet_label_names(1000) or [f"class_{index}" for index in range(1000)]
        model_args = {}
    else:
        raise ValueError(f"unknown random scene classifier size '{size}' (expected 'tiny' or 'full')")
    model = build_random_vit(size, num_classes=len(label_names), seed=seed)
    save_scene_classifier(model, model_dir, DEFAULT_ARCHITECTURE, label_names, model_args, ORIGINAL_PREPROCESSING)
    return model
