"""Every model stage on the CPU, and on CUDA when there is a GPU.

Each test runs a stage's shard function with the model loaded as its script
(scripts/<stage>.py) loads it, on the asked device: the artifacts are written
and valid, the model sits on that device, and on CUDA the results match the
CPU's. A model fed tensors from another device or dtype fails here.
"""

import functools
import threading

import numpy as np
import pytest
import torch
from test_detect_stage import make_items
from test_evaluate_stage import fixture_files, params, scenario2_decisions

from photoprivacy import devices
from photoprivacy.artifacts import load_schema, read_json, validate_npz, write_json
from photoprivacy.caption import word_attention
from photoprivacy.caption.models import load_captioner
from photoprivacy.caption.stage import run_caption_shard
from photoprivacy.caption.word_attention import caption_texts
from photoprivacy.detection import detr
from photoprivacy.detection.detr import DetrDetector, load_detr, preprocess
from photoprivacy.detection.stage import run_detect_shard
from photoprivacy.devices import pick_device, pinned_for, to_device
from photoprivacy.evaluate.stage import Evaluators, run_evaluate_shard
from photoprivacy.faces.detectors import CenterFaceDetector
from photoprivacy.faces.generators import FACE_GENERATORS
from photoprivacy.faces.stage import run_fakes_shard
from photoprivacy.language.bert_attention import analyse_caption_bert, load_bert
from photoprivacy.language.stage import run_language_shard
from photoprivacy.models.store import model_summary, verify_manifest
from photoprivacy.scene import relevance
from photoprivacy.scene import stage as scene_stage
from photoprivacy.scene.classifier import load_scene_classifier
from photoprivacy.scene.relevance import scene_preprocessing
from photoprivacy.scene.stage import run_scene_shard

from conftest import SCHEMAS, gradient_image, save_image, schema_validator

GPU = pytest.mark.skipif(not torch.cuda.is_available(), reason="no GPU")
DEVICES = ["cpu", pytest.param("cuda", marks=GPU)]
MAX_PIXELS = 10**8
# A landscape and a portrait photo: a batch of both is padded (DETR) or resized to a square (ViTs).
PHOTOS = {"wide.png": gradient_image(96, 128, seed=0), "tall.png": gradient_image(120, 80, seed=1)}


@pytest.fixture(autouse=True)
def float32_without_tf32():
    """CUDA results are compared with the CPU's in full float32. cuDNN convolutions run in TF32
    by default, whose 10-bit mantissa the tiny models' peaked attention amplifies to a few
    percent of a map's maximum (DETR, emulated on the CPU): that is rounding, not a device bug."""
    flags = (torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32)
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    yield
    torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = flags


def photo_items(folder):
    for name, pixels in PHOTOS.items():
        save_image(folder / "in" / name, pixels)
    return make_items(folder, list(PHOTOS))


def validated(stage, item):
    """The stage's JSON for ``item`` and its .npz arrays, both checked against their schemas."""
    record = read_json(item["json"])
    schema_validator(f"{stage}.schema.json").validate(record)
    validate_npz(item["npz"], load_schema(SCHEMAS / f"{stage}.npz.schema.yaml"))
    with np.load(item["npz"]) as arrays:
        return record, {name: arrays[name] for name in arrays.files}


def device_of(model):
    return next(model.parameters()).device.type


# ---------------------------------------------------------------- detect


def detect_on(device, model_dir, folder):
    # As scripts/detect.py; threshold 0 keeps every query, so no score near a threshold decides what is compared.
    detector = DetrDetector(model_dir, threshold=0.0, short_side=128, max_side=None, device=device, half=False)
    items = photo_items(folder)
    stats = run_detect_shard(items, detector, params={"threshold": 0.0}, batch_size=2, max_pixels=MAX_PIXELS)
    return detector, stats, [validated("detect", item) for item in items]


@pytest.mark.parametrize("device", DEVICES)
def test_detect_stage(device, tiny_detr_dir, tmp_path):
    detector, stats, outputs = detect_on(device, tiny_detr_dir, tmp_path / device)
    assert detector.device.type == device and device_of(detector.model) == device
    assert (stats["images"], stats["rejected"], stats["detections"]) == (2, 0, 24)  # 12 queries each
    for (record, arrays), pixels in zip(outputs, PHOTOS.values(), strict=True):
        assert record["status"] == "ok" and len(record["detections"]) == 12
        assert record["image"] == {"width": pixels.shape[1], "height": pixels.shape[0]}
        assert arrays["attention"].shape == (12, *record["attention"]["grid"])
    if device == "cpu":
        return
    _, _, expected = detect_on("cpu", tiny_detr_dir, tmp_path / "cpu")
    for (record, arrays), (cpu_record, cpu_arrays) in zip(outputs, expected, strict=True):
        found, wanted = record["detections"], cpu_record["detections"]
        assert [(d["query"], d["label"]) for d in found] == [(d["query"], d["label"]) for d in wanted]
        # Boxes are stored to 0.01 px and scores to 1e-6: one rounding step apart at most.
        np.testing.assert_allclose([d["box_xyxy"] for d in found], [d["box_xyxy"] for d in wanted], atol=0.011)
        np.testing.assert_allclose([d["score"] for d in found], [d["score"] for d in wanted], atol=1e-5)
        np.testing.assert_allclose(arrays["attention"], cpu_arrays["attention"],
                                   atol=1e-4 * cpu_arrays["attention"].max())


def test_half_precision_keeps_the_heads_in_float32(tiny_detr_dir):
    # float16 itself runs on the CPU too, so the layout of a half model is checked without a GPU.
    model, _ = load_detr(tiny_detr_dir, "cpu", half=True)
    heads = (model.class_labels_classifier, model.bbox_predictor)
    assert {p.dtype for p in model.model.parameters()} == {torch.float16}
    assert {p.dtype for head in heads for p in head.parameters()} == {torch.float32}
    pixel_values, pixel_mask = preprocess([gradient_image(60, 90)], short_side=64, max_side=None)
    with torch.inference_mode():
        outputs = model(pixel_values=pixel_values.half(), pixel_mask=pixel_mask, output_attentions=True)
    assert outputs.cross_attentions[-1].dtype == torch.float16
    assert outputs.logits.dtype == outputs.pred_boxes.dtype == torch.float32


@GPU
def test_detr_half_precision_agrees_with_float32(tmp_path):
    # The full-size random DETR, as measured on an H100 (boxes within 0.2 px, attention within
    # 5e-4 of its maximum). The tiny model's peaked attention amplifies float16 rounding: float16
    # emulated on the CPU gave it up to 3e-2 of the maximum, while the full-size one gave 4.4e-4.
    from photoprivacy.models.families import build_random

    build_random("detr", tmp_path / "detr-full", "full", seed=0)
    photos = [gradient_image(480, 640, seed=0), gradient_image(640, 480, seed=1)]
    resize = {"short_side": 800, "max_side": None}  # the original's, at which the tolerances below were measured
    full = DetrDetector(tmp_path / "detr-full", threshold=0.0, **resize, device="cuda", half=False)
    half = DetrDetector(tmp_path / "detr-full", threshold=0.0, **resize, device="cuda", half=True)
    assert half.half and next(half.model.model.parameters()).dtype == torch.float16
    for expected, found in zip(full.detect(photos), half.detect(photos), strict=True):
        # threshold 0 keeps every query; labels are left out (near-equal random logits may swap)
        assert [d["query"] for d in found.detections] == [d["query"] for d in expected.detections]
        np.testing.assert_allclose([d["box_xyxy"] for d in found.detections],
                                   [d["box_xyxy"] for d in expected.detections], atol=0.2)
        assert np.abs(found.attention - expected.attention).max() <= 5e-4 * expected.attention.max()


# ---------------------------------------------------------------- caption

CAPTION_PARAMS = {"max_new_tokens": 6, "num_beams": 1, "layers": "all"}


def caption_on(device, kind, model_dir, folder):
    captioner = load_captioner(model_dir, kind, device=device)  # as scripts/caption.py
    items = photo_items(folder)
    stats = run_caption_shard(items, captioner, CAPTION_PARAMS, batch_size=2, max_pixels=MAX_PIXELS)
    return captioner, stats, [validated("caption", item) for item in items]


@pytest.mark.parametrize("kind", ["blip", "vit_gpt2"])
@pytest.mark.parametrize("device", DEVICES)
def test_caption_stage(device, kind, offline_model_dir, tmp_path):
    model_dir = offline_model_dir(f"captioner_{kind}")
    captioner, stats, outputs = caption_on(device, kind, model_dir, tmp_path / device)
    assert captioner.device.type == device and device_of(captioner.model) == device
    assert (stats["images"], stats["rejected"]) == (2, 0)
    for record, arrays in outputs:
        assert record["status"] == "ok" and record["words"] and record["grid"] == [4, 4]
        assert arrays["maps"].shape == (len(record["words"]), 4, 4)
    if device == "cpu":
        return
    _, _, expected = caption_on("cpu", kind, model_dir, tmp_path / "cpu")
    for (record, arrays), (cpu_record, cpu_arrays) in zip(outputs, expected, strict=True):
        assert (record["caption"], record["tokens"], record["token_to_word"]) == (
            cpu_record["caption"], cpu_record["tokens"], cpu_record["token_to_word"])
        np.testing.assert_allclose(arrays["maps"], cpu_arrays["maps"], atol=1e-5)


# ---------------------------------------------------------------- language (BERT attention)

CAPTIONS = {"beach": "a man riding a horse on the beach", "street": "two people walking down the street with a dog"}
BERT_RULE = {"index_base": 1, "threshold": 0.1}


def language_on(device, model_dir, folder):
    model, tokenizer = load_bert(model_dir, device=pick_device(device))
    items = []
    for image_id, caption in CAPTIONS.items():
        caption_json = folder / "caption" / f"{image_id}.json"
        write_json(caption_json, {"image_id": image_id, "status": "ok", "reason": None, "caption": caption})
        items.append({"caption_json": str(caption_json), "json": str(folder / "language" / f"{image_id}.json")})

    def analyse(caption):  # as scripts/language.py
        return analyse_caption_bert(caption, model, tokenizer, BERT_RULE)

    counts = run_language_shard(items, analyse, {"method": "bert_attention", **BERT_RULE})
    records = [read_json(item["json"]) for item in items]
    for record in records:
        schema_validator("language.schema.json").validate(record)
    return model, counts, records


@pytest.mark.parametrize("device", DEVICES)
def test_language_bert_stage(device, offline_model_dir, tmp_path):
    model, counts, records = language_on(device, offline_model_dir("bert"), tmp_path / device)
    assert device_of(model) == device
    assert counts["images"] == 2 and counts["w1"] + counts["w2"] > 0
    assert [record["caption"] for record in records] == list(CAPTIONS.values())
    assert all(record["method"] == "bert_attention" and record["status"] == "ok" for record in records)
    if device == "cpu":
        return
    _, _, expected = language_on("cpu", offline_model_dir("bert"), tmp_path / "cpu")
    for record, cpu_record in zip(records, expected, strict=True):
        assert (record["w1"], record["w2"]) == (cpu_record["w1"], cpu_record["w2"])
        links = [(e["word"], e["trigger"], e["kind"]) for e in record["evidence"]]
        assert links == [(e["word"], e["trigger"], e["kind"]) for e in cpu_record["evidence"]]
        np.testing.assert_allclose([e["weight"] for e in record["evidence"]],
                                   [e["weight"] for e in cpu_record["evidence"]], atol=1e-5)


# ---------------------------------------------------------------- scene


def scene_on(device, model_dir, folder):
    # As scripts/scene.py.
    model_info = model_summary(verify_manifest(model_dir))
    model, labels = load_scene_classifier(model_dir, device=pick_device(device))
    items = photo_items(folder)
    counts = run_scene_shard(items, model, labels, {"top_k": 3, "relevance": "gradient_rollout"}, model_info,
                             MAX_PIXELS, batch_size=1, preprocessing=scene_preprocessing(model, "model"))
    return model, counts, [validated("scene", item) for item in items]


@pytest.mark.parametrize("device", DEVICES)
def test_scene_stage(device, offline_model_dir, tmp_path):
    model, counts, outputs = scene_on(device, offline_model_dir("scene_classifier"), tmp_path / device)
    assert device_of(model) == device
    assert counts == {"images": 2, "rejected": 0}
    for record, arrays in outputs:
        assert record["status"] == "ok" and len(record["top_k"]) == 3
        assert record["label"] == record["top_k"][0]["label"]
        assert arrays["relevance"].shape == (14, 14) and np.abs(arrays["relevance"]).max() > 0
    if device == "cpu":
        return
    _, _, expected = scene_on("cpu", offline_model_dir("scene_classifier"), tmp_path / "cpu")
    for (record, arrays), (cpu_record, cpu_arrays) in zip(outputs, expected, strict=True):
        assert [t["index"] for t in record["top_k"]] == [t["index"] for t in cpu_record["top_k"]]
        np.testing.assert_allclose([t["probability"] for t in record["top_k"]],
                                   [t["probability"] for t in cpu_record["top_k"]], atol=1e-5)
        np.testing.assert_allclose(arrays["relevance"], cpu_arrays["relevance"], rtol=1e-3, atol=1e-5)


# ---------------------------------------------------------------- fakes

FACES_PER_IMAGE = {"two": 2, "none": 0}


def fakes_on(device, model_dir, folder):
    items = []
    for image_id, count in FACES_PER_IMAGE.items():
        faces = [{"face": i, "person": 0, "box_xyxy": [0, 0, 8, 8], "score": 0.9} for i in range(count)]
        write_json(folder / "faces" / f"{image_id}.json", {"faces": faces})
        items.append({"id": image_id, "faces_json": str(folder / "faces" / f"{image_id}.json"),
                      "npz": str(folder / "fakes" / f"{image_id}.npz")})
    generators = []

    def load_generator():  # as scripts/fakes.py, one image's faces per call
        generators.append(FACE_GENERATORS["diffusion"]({"steps": 2, "device": device, "batch_size": None}, model_dir))
        return generators[-1]

    counts = run_fakes_shard(items, load_generator, 0)
    schema = load_schema(SCHEMAS / "fakes.npz.schema.yaml")
    faces = []
    for item in items:
        validate_npz(item["npz"], schema)
        with np.load(item["npz"]) as arrays:
            faces.append(arrays["faces"])
    return generators, counts, faces


@pytest.mark.parametrize("device", DEVICES)
def test_fakes_stage(device, offline_model_dir, tmp_path):
    generators, counts, faces = fakes_on(device, offline_model_dir("face_generator"), tmp_path / device)
    assert len(generators) == 1 and device_of(generators[0].unet) == device
    assert counts == {"images": 2, "faces": 2}
    assert faces[0].shape == (2, 32, 32, 3) and faces[1].shape == (0, 1, 1, 3)
    assert not np.array_equal(faces[0][0], faces[0][1])  # a seed of its own per face
    if device == "cpu":
        return
    _, _, expected = fakes_on("cpu", offline_model_dir("face_generator"), tmp_path / "cpu")
    # The starting noise comes from CPU generators on every device; the UNet's rounding may move a
    # pixel across a uint8 step.
    assert np.abs(faces[0].astype(int) - expected[0]).max() <= 1


# ---------------------------------------------------------------- evaluate


def evaluate_on(device, detr_dir, captioner_dir, folder):
    folder.mkdir()
    original = gradient_image(60, 80, seed=2)
    protected = original.copy()
    protected[10:40, 10:30] = 200
    item = fixture_files(folder, original, protected, scenario2_decisions())
    # As scripts/evaluate.py, without dlib's recogniser (no torch model, so no device to check).
    detector = DetrDetector(detr_dir, 0.5, 128, None, device, False)
    captioner = load_captioner(captioner_dir, "blip", device=device)
    evaluators = Evaluators(faces=CenterFaceDetector(0.5, 2560), persons=detector,
                            caption=functools.partial(caption_texts, captioner, max_new_tokens=6, num_beams=1))
    [row] = run_evaluate_shard([item], params("scenario2"), evaluators, 4, MAX_PIXELS)
    return (detector, captioner), row


@pytest.mark.parametrize("device", DEVICES)
def test_evaluate_stage_models(device, tiny_detr_dir, offline_model_dir, tmp_path):
    captioner_dir = offline_model_dir("captioner_blip")
    (detector, captioner), row = evaluate_on(device, tiny_detr_dir, captioner_dir, tmp_path / device)
    assert device_of(detector.model) == device_of(captioner.model) == device
    assert row["status"] == "ok" and row["persons_protected"] == 1
    assert row["persons_redetected"] in (0, 1) and isinstance(row["caption_protected"], str)
    assert row["w1_kept"] is not None and row["caption_similarity"] is not None
    if device == "cpu":
        return
    _, expected = evaluate_on("cpu", tiny_detr_dir, captioner_dir, tmp_path / "cpu")
    assert row == pytest.approx(expected, nan_ok=True)


# ---------------------------------------------------------------- inputs on their way to the model


def test_cpu_inputs_are_neither_pinned_nor_copied():
    tensor = torch.zeros(2, 3)
    cpu = torch.device("cpu")
    assert pinned_for(tensor, cpu) is tensor
    assert to_device(tensor, cpu) is tensor and to_device(tensor, cpu, torch.float32) is tensor


@GPU
def test_on_cuda_stages_pin_inputs_in_the_workers_and_copy_from_pinned_memory(tiny_detr_dir, offline_model_dir,
                                                                             tmp_path, monkeypatch):
    pinned_on, copied_from_pinned = [], []

    def pinning(tensor, device):
        pinned_on.append(threading.current_thread().name)
        return devices.pinned_for(tensor, device)

    def copying(tensor, device, dtype=None):
        copied_from_pinned.append(tensor.is_pinned())
        return devices.to_device(tensor, device, dtype)

    for module in (detr, word_attention, scene_stage):
        monkeypatch.setattr(module, "pinned_for", pinning)
    for module in (detr, word_attention, relevance):
        monkeypatch.setattr(module, "to_device", copying)
    detect_on("cuda", tiny_detr_dir, tmp_path / "detect")
    caption_on("cuda", "blip", offline_model_dir("captioner_blip"), tmp_path / "caption")
    scene_on("cuda", offline_model_dir("scene_classifier"), tmp_path / "scene")
    # DETR's pixels and mask, the captioner's pixels (one batch of two each), the scene's one image per batch.
    assert len(pinned_on) == 2 + 1 + 2 and all(name.startswith("prefetch") for name in pinned_on), pinned_on
    assert len(copied_from_pinned) == 2 + 1 + 2 and all(copied_from_pinned)
