"""DETR (transformers ``DetrForObjectDetection``): loading, preprocessing, inference.

Preprocessing follows the original method: resize the short side to ``short_side``
(the original's 800, torchvision ``Resize(800)`` semantics; optional cap on the long side), scale
to [0, 1], ImageNet normalisation. A batch is padded bottom/right to its
largest image and ``pixel_mask`` marks the real pixels, as DETR expects.

For every kept query the last decoder layer's cross-attention, averaged over
heads, is reshaped to the backbone feature grid and cropped to the cells that
cover real pixels (padding cells get zero attention).
"""

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torchvision.transforms.v2 import functional as TF

from ..devices import pick_device, pinned_for, to_device
from ..models.families import verify_model
from ..models.store import model_summary
from .boxes import cxcywh_to_xyxy
from .coco import COCO_LABELS

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass
class ImageDetections:
    """What one image yields: kept detections and their attention maps."""

    detections: list  # dicts: query, label, label_id, score, box_xyxy
    attention: np.ndarray  # (n_kept, h, w) float32
    grid: tuple  # (h, w) of the image's own feature grid


@dataclass
class DetrInputs:
    """A batch ready for the model (``DetrDetector.prepare``): CPU tensors, pinned for CUDA."""

    pixel_values: torch.Tensor  # (batch, 3, h_pad, w_pad) float32
    pixel_mask: torch.Tensor  # (batch, h_pad, w_pad) long, 1 on real pixels
    image_sizes: list  # (height, width) of each photo, which boxes are scaled to


def load_detr(model_dir, device="cpu", half=False):
    """Load a local DETR folder (never the network) with eager attention."""
    from transformers import DetrForObjectDetection

    manifest = verify_model("detr", model_dir)
    model = DetrForObjectDetection.from_pretrained(
        str(model_dir), local_files_only=True, use_safetensors=True, attn_implementation="eager"
    )
    model.eval().to(device)
    if half:
        model.half()
        # The heads stay float32: a box is a sigmoid output, and float16's spacing just below 1
        # (2^-11) is 0.4 px of an 800-px photo. They are two small layers over the queries.
        for head in (model.class_labels_classifier, model.bbox_predictor):
            head.float().register_forward_pre_hook(_inputs_to_float32)
    return model, manifest


def _inputs_to_float32(module, inputs):
    return tuple(value.float() if torch.is_floating_point(value) else value for value in inputs)


def resized_size(height, width, short_side, max_side):
    """Target (h, w): short side -> ``short_side``, long side capped at ``max_side`` (None: uncapped)."""
    short, long = min(height, width), max(height, width)
    new_short, new_long = short_side, int(short_side * long / short)
    if max_side is not None and new_long > max_side:
        new_short, new_long = int(round(max_side * short / long)), max_side
    return (new_short, new_long) if height <= width else (new_long, new_short)


def preprocess(images, short_side, max_side):
    """Uint8 (H, W, 3) arrays -> padded, normalised ``pixel_values`` and ``pixel_mask``.

    ``short_side`` and ``max_side`` are config.yaml's detect.short_side and detect.max_side (``resized_size``).
    """
    tensors = []
    for image in images:
        chw = torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1)
        size = resized_size(chw.shape[1], chw.shape[2], short_side, max_side)
        resized = TF.resize(chw, list(size), interpolation=TF.InterpolationMode.BILINEAR, antialias=True)
        tensors.append(TF.normalize(resized.float() / 255.0, IMAGENET_MEAN, IMAGENET_STD))
    height = max(t.shape[1] for t in tensors)
    width = max(t.shape[2] for t in tensors)
    pixel_values = torch.zeros(len(tensors), 3, height, width)
    pixel_mask = torch.zeros(len(tensors), height, width, dtype=torch.long)
    for index, tensor in enumerate(tensors):
        pixel_values[index, :, : tensor.shape[1], : tensor.shape[2]] = tensor
        pixel_mask[index, : tensor.shape[1], : tensor.shape[2]] = 1
    return pixel_values, pixel_mask


def valid_grid_sizes(pixel_mask, grid):
    """Per image, the (h, w) of feature cells over real pixels, as DETR masks them."""
    mask = F.interpolate(pixel_mask[None].float(), size=grid).to(torch.bool)[0]
    return [(int(m[:, 0].sum()), int(m[0, :].sum())) for m in mask]


def head_mean_maps(cross_attention, grid, valid):
    """(heads, queries, h_pad * w_pad) -> (queries, h, w): head mean, cropped to ``valid``."""
    maps = cross_attention.float().mean(dim=0).reshape(cross_attention.shape[1], *grid)
    return maps[:, : valid[0], : valid[1]]


def label_name(config, label_id):
    name = (config.id2label or {}).get(label_id)
    if name is None or name.startswith("LABEL_"):
        name = COCO_LABELS[label_id] if label_id < len(COCO_LABELS) else f"class_{label_id}"
    return name


class DetrDetector:
    """Loads DETR once; ``detect`` runs one padded batch per call: ``prepare`` (CPU only, so a
    stage runs it in its prefetch workers), then ``run`` (the model and its outputs).

    Every setting is the caller's, from config.yaml: ``threshold``, ``short_side`` and ``max_side``
    (detect.*), ``device`` (execution.device, for ``pick_device``) and ``half``
    (execution.half_precision; float16 on CUDA only).
    """

    name = "detr"
    has_attention = True

    def __init__(self, model_dir, threshold, short_side, max_side, device, half):
        self.device = pick_device(device)
        self.half = bool(half) and self.device.type == "cuda"
        self.model, manifest = load_detr(model_dir, self.device, self.half)
        self.model_info = model_summary(manifest)
        self.threshold = threshold
        self.short_side = short_side
        self.max_side = max_side
        self._grid = None
        self.model.model.input_projection.register_forward_hook(self._remember_grid)

    def _remember_grid(self, module, inputs, output):
        self._grid = tuple(output.shape[-2:])

    def forward(self, pixel_values, pixel_mask):
        """The bare model call (also what benchmarks time)."""
        dtype = torch.float16 if self.half else torch.float32
        with torch.inference_mode():
            return self.model(
                pixel_values=to_device(pixel_values, self.device, dtype),
                pixel_mask=to_device(pixel_mask, self.device),
                output_attentions=True,
            )

    def detect(self, images, relpaths=None):
        """Detections and attention maps for a list of uint8 RGB arrays."""
        return self.run(self.prepare(images), relpaths)

    def prepare(self, images):
        """``DetrInputs`` of a list of uint8 RGB arrays. Never touches the model: thread-safe."""
        pixel_values, pixel_mask = preprocess(images, self.short_side, self.max_side)
        return DetrInputs(pinned_for(pixel_values, self.device), pinned_for(pixel_mask, self.device),
                          [image.shape[:2] for image in images])

    def run(self, inputs, relpaths=None):
        """Detections and attention maps of a prepared batch (``relpaths``: unused, as in ``detect``)."""
        outputs = self.forward(inputs.pixel_values, inputs.pixel_mask)
        probabilities = outputs.logits.float().softmax(-1)[..., :-1]  # drop "no object"
        scores, label_ids = probabilities.max(-1)
        last_layer = outputs.cross_attentions[-1]
        results = []
        valid_grids = valid_grid_sizes(inputs.pixel_mask, self._grid)
        for index, ((height, width), valid) in enumerate(zip(inputs.image_sizes, valid_grids, strict=True)):
            keep = torch.nonzero(scores[index] > self.threshold).flatten()
            boxes = cxcywh_to_xyxy(outputs.pred_boxes[index, keep].float().cpu().numpy(), width, height)
            maps = head_mean_maps(last_layer[index], self._grid, valid)[keep]
            detections = [
                {
                    "query": int(query),
                    "label": label_name(self.model.config, int(label_ids[index, query])),
                    "label_id": int(label_ids[index, query]),
                    "score": round(float(scores[index, query]), 6),
                    "box_xyxy": [round(float(v), 2) for v in box],
                }
                for query, box in zip(keep.tolist(), boxes, strict=True)
            ]
            results.append(ImageDetections(detections, maps.cpu().numpy().astype(np.float32), valid))
        return results

