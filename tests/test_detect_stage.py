"""The detection stage over a shard: artifacts, schemas, rejected images, annotations."""

import json
import threading
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from photoprivacy.artifacts import load_schema, provenance, read_json, validate_npz, write_json, write_npz
from photoprivacy.detection import detr
from photoprivacy.detection.annotations import AnnotationDetector
from photoprivacy.detection.detr import DetrDetector
from photoprivacy.detection.stage import attention_arrays, detection_record, run_detect_shard
from photoprivacy.images import decode_batch
from photoprivacy.pipeline import batches
from photoprivacy.stages import STAGE_VERSIONS
from photoprivacy.summary import write_rejected_tsv

from conftest import MAX_PIXELS, SCHEMAS, gradient_image, save_image, schema_validator


def check_artifacts(item):
    record = read_json(item["json"])
    schema_validator("detect.schema.json").validate(record)
    sizes = validate_npz(item["npz"], load_schema(SCHEMAS / "detect.npz.schema.yaml"))
    assert sizes["n"] == len(record["detections"])
    return record


def make_items(tmp_path, names):
    items = []
    for name in names:
        image_id = name.split(".")[0]
        items.append({
            "id": image_id, "path": str(tmp_path / "in" / name), "relpath": name, "source": name,
            "json": str(tmp_path / "out" / f"{image_id}.json"), "npz": str(tmp_path / "out" / f"{image_id}.npz"),
        })
    return items


def small_photo_items(photos, folder, scale=4):
    """Items of the shared photos at 1/``scale`` of their size (saved as PNG): real content, quick to run."""
    for photo in photos:
        with Image.open(photo) as image:
            save_image(folder / "in" / f"{photo.stem}.png", np.asarray(image.convert("RGB").reduce(scale)))
    return make_items(folder, [f"{photo.stem}.png" for photo in photos])


def output_bytes(items):
    return [(Path(item["json"]).read_bytes(), Path(item["npz"]).read_bytes()) for item in items]


def detect_on_this_thread(items, detector, params, batch_size):
    """The artifacts as the stage wrote them before it prepared batches ahead: ``detect`` in the loop."""
    prov = provenance("detect", STAGE_VERSIONS["detect"], params, detector.model_info)
    for batch in batches(items, batch_size):
        decoded, _ = decode_batch(batch, MAX_PIXELS)
        results = detector.detect([image for _, image in decoded], [item["relpath"] for item, _ in decoded])
        for (item, image), result in zip(decoded, results, strict=True):
            write_json(item["json"], detection_record(
                item["id"], item["source"], detector.name, detector.has_attention, prov, image, result))
            write_npz(item["npz"], **attention_arrays(result))


def test_prepared_in_the_workers_the_stage_writes_what_detect_gives(tmp_path, tiny_detr_dir, shared_photos):
    detector = DetrDetector(tiny_detr_dir, threshold=0.5, short_side=96, max_side=None, device="cpu", half=False)
    params = {"threshold": 0.5}
    staged, direct = small_photo_items(shared_photos, tmp_path / "staged"), small_photo_items(shared_photos,
                                                                                              tmp_path / "direct")
    stats = run_detect_shard(staged, detector, params, batch_size=3, max_pixels=MAX_PIXELS)  # a padded batch of 3
    detect_on_this_thread(direct, detector, params, batch_size=3)
    assert stats["images"] == len(shared_photos) and stats["detections"] > 0
    assert output_bytes(staged) == output_bytes(direct)


def test_one_job_over_two_shards_writes_what_a_fresh_job_per_shard_writes(tmp_path, tiny_detr_dir, shared_photos):
    """A model job (execution.model_jobs) runs several shards on one model: batches stop at each
    shard's end, so padding to a batch's largest photo never mixes shards of differently sized photos."""

    def shards(folder):
        small = [dict(item, shard="0001") for item in small_photo_items(shared_photos, folder / "small", scale=4)]
        large = [dict(item, shard="0002") for item in small_photo_items(shared_photos, folder / "large", scale=2)]
        return small, large

    def detector():
        return DetrDetector(tiny_detr_dir, threshold=0.5, short_side=96, max_side=None, device="cpu", half=False)

    together, alone = shards(tmp_path / "together"), shards(tmp_path / "alone")
    run_detect_shard(together[0] + together[1], detector(), {}, batch_size=3, max_pixels=MAX_PIXELS)
    for shard in alone:
        run_detect_shard(shard, detector(), {}, batch_size=3, max_pixels=MAX_PIXELS)
    assert len(shared_photos) % 3  # a shard ends inside a batch of 3
    assert output_bytes(together[0] + together[1]) == output_bytes(alone[0] + alone[1])


def test_detr_preprocessing_runs_in_the_prefetch_workers(tmp_path, tiny_detr_dir, shared_photos, monkeypatch):
    threads = []
    preprocess = detr.preprocess

    def recording(*args, **kwargs):
        threads.append(threading.current_thread().name)
        return preprocess(*args, **kwargs)

    monkeypatch.setattr(detr, "preprocess", recording)
    detector = DetrDetector(tiny_detr_dir, threshold=0.5, short_side=64, max_side=None, device="cpu", half=False)
    run_detect_shard(small_photo_items(shared_photos, tmp_path), detector, {}, batch_size=2, max_pixels=MAX_PIXELS)
    assert len(threads) == len(batches(shared_photos, 2))
    assert all(name.startswith("prefetch") for name in threads), threads


def test_shard_with_bad_images_finishes_and_reports_them(tmp_path, tiny_detr_dir):
    save_image(tmp_path / "in" / "good.png", gradient_image(60, 90))
    save_image(tmp_path / "in" / "gray.png", gradient_image(50, 50)[:, :, 0])
    (tmp_path / "in" / "empty.jpg").write_bytes(b"")
    (tmp_path / "in" / "text.jpg").write_text("hello")
    items = make_items(tmp_path, ["good.png", "empty.jpg", "gray.png", "text.jpg"])
    detector = DetrDetector(tiny_detr_dir, threshold=0.5, short_side=64, max_side=None, device="cpu", half=False)
    stats = run_detect_shard(items, detector, params={"threshold": 0.5}, batch_size=3, max_pixels=10**8)
    assert stats["images"] == 2 and stats["rejected"] == 2
    records = {item["id"]: check_artifacts(item) for item in items}
    assert records["good"]["status"] == "ok" and records["good"]["image"] == {"width": 90, "height": 60}
    assert records["good"]["attention"] == {"available": True, "grid": [2, 3]}
    assert records["empty"]["status"] == "rejected" and records["empty"]["reason"] == "empty file (0 bytes)"
    assert records["empty"]["detections"] == [] and records["empty"]["image"] is None
    assert records["text"]["reason"] == "not an image (format not recognised)"
    assert records["good"]["provenance"]["params"] == {"threshold": 0.5}
    assert records["good"]["provenance"]["model"]["id"] == "random-detr-tiny"

    tsv = tmp_path / "rejected.tsv"
    assert write_rejected_tsv([item["json"] for item in items], tsv) == 2
    assert tsv.read_text().splitlines() == [
        "image_id\tsource\tstage\treason",
        "empty\tempty.jpg\tdetect\tempty file (0 bytes)",
        "text\ttext.jpg\tdetect\tnot an image (format not recognised)",
    ]


def test_same_inputs_give_identical_bytes(tmp_path, tiny_detr_dir):
    save_image(tmp_path / "in" / "a.png", gradient_image(60, 90))
    detector = DetrDetector(tiny_detr_dir, threshold=0.0, short_side=64, max_side=None, device="cpu", half=False)
    outputs = []
    for run in ("one", "two"):
        items = make_items(tmp_path, ["a.png"])
        for item in items:
            item["json"] = item["json"].replace("/out/", f"/{run}/")
            item["npz"] = item["npz"].replace("/out/", f"/{run}/")
        run_detect_shard(items, detector, params={}, batch_size=1, max_pixels=10**8)
        outputs.append((Path(items[0]["json"]).read_bytes(), Path(items[0]["npz"]).read_bytes()))
    assert outputs[0] == outputs[1]


def test_annotations_detector_writes_boxes_without_attention(tmp_path):
    save_image(tmp_path / "in" / "sub" / "p.png", gradient_image(40, 60))
    coco = {
        "images": [{"id": 7, "file_name": "sub/p.png", "width": 60, "height": 40}],
        "annotations": [
            {"id": 1, "image_id": 7, "bbox": [5, 6, 10, 20], "category_id": 1},
            {"id": 2, "image_id": 7, "bbox": [30, 0, 5, 5], "category_id": 44},
        ],
        "categories": [{"id": 1, "name": "person"}, {"id": 44, "name": "bottle"}],
    }
    annotation_file = tmp_path / "instances.json"
    annotation_file.write_text(json.dumps(coco))
    items = make_items(tmp_path, ["sub/p.png"])
    items[0].update(id="sub__p", json=str(tmp_path / "out" / "p.json"), npz=str(tmp_path / "out" / "p.npz"))
    run_detect_shard(items, AnnotationDetector(annotation_file), params={}, batch_size=2, max_pixels=10**8)
    record = check_artifacts(items[0])
    assert record["detector"] == "annotations"
    assert record["attention"] == {"available": False, "grid": None}
    assert [(d["label"], d["box_xyxy"], d["query"], d["score"]) for d in record["detections"]] == [
        ("person", [5.0, 6.0, 15.0, 26.0], None, 1.0),
        ("bottle", [30.0, 0.0, 35.0, 5.0], None, 1.0),
    ]
    with np.load(items[0]["npz"]) as arrays:
        assert arrays["attention"].shape == (2, 0, 0) and list(arrays["query"]) == [-1, -1]


def test_npz_schema_check_names_the_array(tmp_path):
    schema = load_schema(SCHEMAS / "detect.npz.schema.yaml")
    path = tmp_path / "bad.npz"
    np.savez(path, query=np.zeros(2, np.int64), attention=np.zeros((3, 2, 2), np.float32),
             h=np.int64(2), w=np.int64(2))
    with pytest.raises(ValueError, match="array 'attention' axis 0 \\(n\\) is 3, but n is 2"):
        validate_npz(path, schema)


def test_failed_write_leaves_no_file(tmp_path):
    from photoprivacy.artifacts import write_json

    with pytest.raises(TypeError):
        write_json(tmp_path / "x.json", {"not json": object()})
    assert list(tmp_path.iterdir()) == []
