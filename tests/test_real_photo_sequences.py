"""Models built through the registries, reused over a sequence of real photos of many sizes (the shared
photos as taken, cropped, upscaled 2x and 3x), give for each photo what a freshly built one gives for
that photo alone. (The scene stage's counterpart is in test_scene_classifier.py.)"""

import json
from pathlib import Path

import numpy as np
import pytest

from photoprivacy.caption.models import CAPTIONERS, load_captioner
from photoprivacy.caption.stage import run_caption_shard
from photoprivacy.caption.word_attention import caption_pixels_with_word_maps, prepare
from photoprivacy.detection.detectors import OBJECT_DETECTORS
from photoprivacy.detection.stage import run_detect_shard
from photoprivacy.images import load_rgb

from conftest import MAX_PIXELS, default_config


def shard_items(photo_variants, out):
    return [{"id": path.stem, "path": str(path), "relpath": path.name, "source": path.name,
             "json": str(out / f"{path.stem}.json"), "npz": str(out / f"{path.stem}.npz")} for path in photo_variants]


@pytest.mark.parametrize("kind", CAPTIONERS.names)
def test_one_captioner_over_real_photos_captions_as_a_fresh_one(kind, offline_model_dir, photo_variants, tmp_path):
    model_dir = offline_model_dir(f"captioner_{kind}")
    params = {key: default_config()["caption"][key] for key in ("max_new_tokens", "num_beams", "layers")}
    items = shard_items(photo_variants, tmp_path)
    captioner = load_captioner(model_dir, kind, "cpu")
    stats = run_caption_shard(items, captioner, params, 3, MAX_PIXELS)  # batches of 3 differently sized photos
    assert (stats["images"], stats["rejected"]) == (len(photo_variants), 0)
    for item in items:
        fresh = load_captioner(model_dir, kind, "cpu")
        pixel_values = prepare(fresh, [load_rgb(item["path"], MAX_PIXELS)])
        (expected,) = caption_pixels_with_word_maps(fresh, pixel_values, params["max_new_tokens"], params["num_beams"],
                                                    params["layers"])
        record = json.loads(Path(item["json"]).read_text())
        assert (record["caption"], record["words"], record["token_to_word"]) == (
            expected.caption, expected.words, expected.token_to_word)
        with np.load(item["npz"]) as arrays:
            np.testing.assert_allclose(arrays["maps"], expected.maps, rtol=1e-4, atol=1e-6)


def test_one_detector_over_real_photos_detects_as_a_fresh_one(tiny_detr_dir, photo_variants, tmp_path):
    """DETR at the configured input size (short side 800), one photo per call: photos from 422 x 97 (a crop)
    to 2400 x 1692 (3x)."""
    params = {**default_config()["detect"], "device": "cpu", "half_precision": False}
    items = shard_items(photo_variants, tmp_path)
    stats = run_detect_shard(items, OBJECT_DETECTORS["detr"](params, tiny_detr_dir), params, 1, MAX_PIXELS)
    assert stats["images"] == len(photo_variants)
    found = 0
    for item in items:
        fresh = OBJECT_DETECTORS["detr"](params, tiny_detr_dir)
        [expected] = fresh.detect([load_rgb(item["path"], MAX_PIXELS)])
        record = json.loads(Path(item["json"]).read_text())
        assert [(d["label"], d["score"], d["box_xyxy"]) for d in record["detections"]] == [
            (d["label"], d["score"], d["box_xyxy"]) for d in expected.detections]
        with np.load(item["npz"]) as arrays:
            np.testing.assert_array_equal(arrays["attention"], expected.attention)
        found += len(expected.detections)
    assert found > 0  # the tiny model leans towards 'person': some queries pass the threshold
