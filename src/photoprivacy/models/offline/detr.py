"""A random DETR (transformers ``DetrForObjectDetection``), as ``detection.detr`` loads it."""

import torch

from ...detection.coco import COCO_LABELS, PERSON_LABEL_ID


def build_random_detr(model_dir, size="tiny", seed=0):
    """Save a randomly initialised DETR of the real classes to ``model_dir``.

    ``full`` has facebook/detr-resnet-50's architecture (timm ResNet-50
    backbone, 6+6 layers, 100 queries) for timing. ``tiny`` is a few thousand
    parameters with a small transformers ResNet backbone. Its weights are
    drawn at a larger scale (``init_std``, query embeddings x10) so queries
    attend to different places and predict different boxes, and its
    classifier leans towards 'person' so that some queries pass config.yaml's
    detect.threshold (0.9) and offline runs give person-dependent stages work to do.
    """
    from transformers import DetrConfig, DetrForObjectDetection, ResNetConfig

    torch.manual_seed(seed)
    id2label = dict(enumerate(COCO_LABELS))
    common = {"num_labels": len(COCO_LABELS), "id2label": id2label, "attn_implementation": "eager"}
    if size == "full":
        config = DetrConfig(**common)
    elif size == "tiny":
        backbone = ResNetConfig(
            embedding_size=8, hidden_sizes=[8, 16, 16, 32], depths=[1, 1, 1, 1], out_features=["stage4"]
        )
        config = DetrConfig(
            backbone_config=backbone, d_model=32, encoder_layers=1, decoder_layers=2,
            encoder_attention_heads=2, decoder_attention_heads=2, encoder_ffn_dim=64,
            decoder_ffn_dim=64, num_queries=12, init_std=0.3, **common,
        )
    else:
        raise ValueError(f"unknown random DETR size '{size}' (expected 'tiny' or 'full')")
    model = DetrForObjectDetection(config).eval()
    if size == "tiny":
        with torch.no_grad():
            model.model.query_position_embeddings.weight.mul_(10.0)
            # Boxes around the centre at about half the image size, not collapsed into a corner.
            model.bbox_predictor.layers[-1].bias.zero_()
            model.bbox_predictor.layers[-1].weight.mul_(0.1)
            model.class_labels_classifier.bias[PERSON_LABEL_ID] += 6.0
    model.save_pretrained(str(model_dir), safe_serialization=True)
    return model
