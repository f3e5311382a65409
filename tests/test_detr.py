"""DETR adapter: preprocessing, box conversion, attention extraction on a tiny model."""

import numpy as np
import pytest
import torch

from photoprivacy.detection.boxes import cxcywh_to_xyxy, xywh_to_xyxy
from photoprivacy.detection.coco import COCO_LABELS, PERSON_LABEL_ID
from photoprivacy.detection.detr import DetrDetector, load_detr, preprocess, resized_size
from photoprivacy.errors import ModelNotAvailable

from conftest import gradient_image


def test_coco_table_has_91_ids_with_holes():
    assert len(COCO_LABELS) == 91
    assert COCO_LABELS[PERSON_LABEL_ID] == "person" and PERSON_LABEL_ID == 1
    assert COCO_LABELS[12] == "N/A" and COCO_LABELS[90] == "toothbrush"


def test_box_conversion():
    np.testing.assert_allclose(
        cxcywh_to_xyxy([[0.5, 0.5, 0.2, 0.4], [0.1, 0.9, 0.4, 0.4]], width=200, height=100),
        [[80, 30, 120, 70], [-20, 70, 60, 110]],
    )
    np.testing.assert_allclose(xywh_to_xyxy([[10, 20, 30, 40]]), [[10, 20, 40, 60]])
    assert cxcywh_to_xyxy(np.zeros((0, 4)), 10, 10).shape == (0, 4)


@pytest.mark.parametrize(
    ("size", "max_side", "expected"),
    [
        ((564, 800), None, (800, 1134)),  # torchvision Resize(800): int(800 * 800 / 564)
        ((640, 511), None, (1001, 800)),  # int(800 * 640 / 511) = 1001
        ((100, 1000), None, (800, 8000)),
        ((100, 1000), 1333, (133, 1333)),
        ((800, 800), None, (800, 800)),
    ],
)
def test_resized_size_follows_the_short_side(size, max_side, expected):
    assert resized_size(*size, short_side=800, max_side=max_side) == expected


def test_preprocess_pads_and_masks():
    small, wide = gradient_image(40, 40), gradient_image(40, 80)
    pixel_values, pixel_mask = preprocess([small, wide], short_side=64, max_side=None)
    assert pixel_values.shape == (2, 3, 64, 128)
    assert pixel_mask[0, :, :64].all() and not pixel_mask[0, :, 64:].any()
    assert pixel_mask[1].all()
    assert (pixel_values[0, :, :, 64:] == 0).all()
    # ImageNet normalisation of a constant image is exact.
    white = np.full((10, 10, 3), 255, np.uint8)
    values, _ = preprocess([white], short_side=10, max_side=None)
    expected = (1 - torch.tensor([0.485, 0.456, 0.406])) / torch.tensor([0.229, 0.224, 0.225])
    torch.testing.assert_close(values[0, :, 0, 0], expected)


def test_attention_map_is_the_head_mean_of_the_last_layer(tiny_detr_dir):
    detector = DetrDetector(tiny_detr_dir, threshold=0.0, short_side=96, max_side=None, device="cpu", half=False)
    image = gradient_image(70, 100)
    (result,) = detector.detect([image])
    # Direct computation: one image, no padding, the model called by hand.
    pixel_values, pixel_mask = preprocess([image], short_side=96, max_side=None)
    model, _ = load_detr(tiny_detr_dir)
    with torch.inference_mode():
        outputs = model(pixel_values=pixel_values, pixel_mask=pixel_mask, output_attentions=True)
    h, w = result.grid
    assert (h, w) == (3, 5)  # 96x137 input, ResNet stride 32, rounded up
    last = outputs.cross_attentions[-1][0]  # (heads, queries, h*w)
    assert len(result.detections) == model.config.num_queries  # threshold 0 keeps every query
    for row, detection in enumerate(result.detections):
        q = detection["query"]
        expected = last[:, q, :].mean(dim=0).reshape(h, w).numpy()
        np.testing.assert_allclose(result.attention[row], expected, rtol=1e-6, atol=1e-7)
        probabilities = outputs.logits[0, q].softmax(-1)[:-1]
        assert detection["score"] == pytest.approx(float(probabilities.max()), abs=1e-6)
        assert detection["label_id"] == int(probabilities.argmax())
        assert detection["label"] == COCO_LABELS[detection["label_id"]]
        expected_box = cxcywh_to_xyxy(outputs.pred_boxes[0, q].numpy(), 100, 70)[0]
        np.testing.assert_allclose(detection["box_xyxy"], expected_box, atol=0.006)


def test_padded_batch_maps_cover_only_real_pixels(tiny_detr_dir):
    detector = DetrDetector(tiny_detr_dir, threshold=0.0, short_side=64, max_side=None, device="cpu", half=False)
    small, wide = gradient_image(64, 64), gradient_image(64, 192, seed=1)
    results = detector.detect([small, wide])
    assert results[0].grid == (2, 2) and results[0].attention.shape[1:] == (2, 2)
    assert results[1].grid == (2, 6)
    for result in results:
        # Padding cells get no attention, so the cropped map still sums to one.
        np.testing.assert_allclose(result.attention.sum(axis=(1, 2)), 1.0, rtol=1e-5)


def test_threshold_keeps_only_confident_queries(tiny_detr_dir):
    image = gradient_image(80, 80)
    settings = {"short_side": 64, "max_side": None, "device": "cpu", "half": False}
    everything = DetrDetector(tiny_detr_dir, threshold=0.0, **settings).detect([image])[0]
    scores = sorted(d["score"] for d in everything.detections)
    cut = scores[len(scores) // 2]
    kept = DetrDetector(tiny_detr_dir, threshold=cut, **settings).detect([image])[0]
    assert [d["score"] > cut for d in kept.detections] == [True] * len(kept.detections)
    assert len(kept.detections) == sum(s > cut for s in scores)
    assert kept.attention.shape[0] == len(kept.detections)


def test_loading_checks_the_manifest(tiny_detr_dir, tmp_path):
    import shutil

    copy = tmp_path / "detr"
    shutil.copytree(tiny_detr_dir, copy)
    with open(copy / "model.safetensors", "r+b") as handle:
        handle.seek(-1, 2)
        handle.write(b"\x00" if handle.read(1) != b"\x00" else b"\x01")
    with pytest.raises(ModelNotAvailable, match="does not match the SHA-256"):
        load_detr(copy)
    (copy / "manifest.json").unlink()
    with pytest.raises(ModelNotAvailable, match="manifest.json is missing"):
        load_detr(copy)


def test_a_file_changed_after_the_manifest_is_hashed_again(tiny_detr_dir, tmp_path):
    import os
    import shutil

    copy = tmp_path / "detr"
    shutil.copytree(tiny_detr_dir, copy)
    weights = copy / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0xFF  # same size, different content
    weights.write_bytes(bytes(data))
    manifest_time = (copy / "manifest.json").stat().st_mtime_ns
    os.utime(weights, ns=(manifest_time + 10**9, manifest_time + 10**9))
    with pytest.raises(ModelNotAvailable, match="does not match the SHA-256"):
        load_detr(copy)
