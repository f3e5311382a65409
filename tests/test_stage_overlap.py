"""Model stages that decode ahead, write behind and batch their models give what the serial path gives.

The serial path is the same stage with ``prefetched`` and ``BackgroundWriter``
replaced by inline stand-ins (prepare, then use; write at once), which is the
loop each stage ran before. Inputs are the shared photos at their own sizes,
a half-size copy, a truncated JPEG and an empty file, in batches that mix
them.
"""

import contextlib
import functools
import io

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

from photoprivacy.artifacts import read_json, write_json
from photoprivacy.models.families import build_random

from conftest import save_image

BATCH = 3


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread():
    """Both paths give the same with any thread count; one keeps this file fast on a busy machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


class InlineWriter:
    """BackgroundWriter's interface, writing at once on the caller's thread."""

    def __init__(self, max_pending=None):
        pass

    def submit(self, function, *args, **kwargs):
        function(*args, **kwargs)

    def close(self):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def inline_prefetched(chunks, prepare, **_):
    for chunk in chunks:
        yield chunk, prepare(chunk)


@contextlib.contextmanager
def serial(monkeypatch, module):
    """Run ``module``'s stage the serial way while the block lasts."""
    with monkeypatch.context() as patch:
        for name, stand_in in (("prefetched", inline_prefetched), ("BackgroundWriter", InlineWriter)):
            if hasattr(module, name):
                patch.setattr(module, name, stand_in)
        yield


def output_bytes(folder):
    return {path.name: path.read_bytes() for path in sorted(folder.iterdir())}


@pytest.fixture(scope="module")
def photos(shared_photos, tmp_path_factory):
    """Differently sized real photos with a truncated JPEG and an empty file among them."""
    folder = tmp_path_factory.mktemp("photos")
    names = []
    for photo in shared_photos:
        (folder / photo.name).write_bytes(photo.read_bytes())
        names.append(photo.name)
    city = Image.open(shared_photos[1]).convert("RGB")
    save_image(folder / "half_city.png", np.asarray(city.resize((city.width // 2, city.height // 2))))
    whole = io.BytesIO()
    city.save(whole, "JPEG", quality=90)
    (folder / "truncated.jpg").write_bytes(whole.getvalue()[: len(whole.getvalue()) // 3])
    (folder / "empty.jpg").write_bytes(b"")
    names[2:2] = ["truncated.jpg", "half_city.png"]
    names.append("empty.jpg")
    return [folder / name for name in names]


def items(photos, out, **inputs):
    rows = []
    for photo in photos:
        image_id = photo.stem
        row = {"id": image_id, "path": str(photo), "relpath": photo.name, "source": photo.name,
               "json": str(out / f"{image_id}.json"), "npz": str(out / f"{image_id}.npz")}
        row.update({name: str(folder / f"{image_id}{suffix}") for name, (folder, suffix) in inputs.items()})
        rows.append(row)
    return rows


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("models")
    for family in ("detr", "captioner_blip", "scene_classifier", "bert", "face_generator"):
        build_random(family, root / family, "tiny", seed=0)
    return root


@pytest.fixture(scope="module")
def detector(models):
    from photoprivacy.detection.detr import DetrDetector

    return DetrDetector(models / "detr", threshold=0.5, short_side=96, max_side=None, device="cpu", half=False)


@pytest.fixture(scope="module")
def captioner(models):
    from photoprivacy.caption.models import load_captioner

    return load_captioner(models / "captioner_blip", "blip", device="cpu")


CAPTION_PARAMS = {"max_new_tokens": 8, "num_beams": 1, "layers": "all"}


def run_both(monkeypatch, module, tmp_path, run):
    """``run(out folder)`` pipelined and serially; both folders' files."""
    run(tmp_path / "overlapped")
    with serial(monkeypatch, module):
        run(tmp_path / "serial")
    return output_bytes(tmp_path / "overlapped"), output_bytes(tmp_path / "serial")


def test_detect_writes_the_serial_bytes(monkeypatch, tmp_path, photos, detector):
    from photoprivacy.detection import stage

    def run(out):
        stats = stage.run_detect_shard(items(photos, out), detector, {"threshold": 0.5}, BATCH, 10**8)
        assert (stats["images"], stats["rejected"]) == (5, 2)

    overlapped, serial_files = run_both(monkeypatch, stage, tmp_path, run)
    assert len(overlapped) == 2 * len(photos) and overlapped == serial_files
    assert read_json(tmp_path / "overlapped" / "truncated.json")["status"] == "rejected"


def test_a_failed_write_fails_the_job_and_the_other_images_are_written(tmp_path, photos, detector):
    from photoprivacy.detection import stage

    rows = items(photos, tmp_path / "out")
    (tmp_path / "out" / "city.json").mkdir(parents=True)  # a folder where city's record should go
    with pytest.raises(OSError):
        stage.run_detect_shard(rows, detector, {}, BATCH, 10**8)
    assert (tmp_path / "out" / "astronaut.json").is_file()  # written before the failure was noticed
    assert not list((tmp_path / "out").glob(".*.tmp"))  # no temporary file left behind


def test_caption_writes_the_serial_bytes(monkeypatch, tmp_path, photos, captioner):
    from photoprivacy.caption import stage

    def run(out):
        stage.run_caption_shard(items(photos, out), captioner, CAPTION_PARAMS, BATCH, 10**8)

    overlapped, serial_files = run_both(monkeypatch, stage, tmp_path, run)
    assert len(overlapped) == 2 * len(photos) and overlapped == serial_files


def test_language_writes_the_serial_bytes(monkeypatch, tmp_path, photos, captioner, models):
    from photoprivacy.caption.stage import run_caption_shard
    from photoprivacy.language import stage
    from photoprivacy.language.bert_attention import analyse_caption_bert, load_bert

    captions = tmp_path / "captions"
    run_caption_shard(items(photos, captions), captioner, CAPTION_PARAMS, BATCH, 10**8)
    model, tokenizer = load_bert(models / "bert")
    rule = {"index_base": 1, "threshold": 0.1}

    def run(out):
        stage.run_language_shard(items(photos, out, caption_json=(captions, ".json")),
                                 lambda text: analyse_caption_bert(text, model, tokenizer, rule),
                                 {"method": "bert_attention", **rule})

    overlapped, serial_files = run_both(monkeypatch, stage, tmp_path, run)
    assert len(overlapped) == len(photos) and overlapped == serial_files
    assert read_json(tmp_path / "overlapped" / "empty.json")["status"] == "rejected"


@pytest.fixture(scope="module")
def scene_model(models):
    from photoprivacy.models.store import model_summary, verify_manifest
    from photoprivacy.scene.classifier import load_scene_classifier

    model, labels = load_scene_classifier(models / "scene_classifier")
    return model, labels, model_summary(verify_manifest(models / "scene_classifier"))


def run_scene(photos, scene_model, out, batch_size):
    from photoprivacy.scene.relevance import scene_preprocessing
    from photoprivacy.scene.stage import run_scene_shard

    model, labels, info = scene_model
    params = {"top_k": 3, "relevance": "gradient_rollout"}
    return run_scene_shard(items(photos, out), model, labels, params, info, 10**8, batch_size=batch_size,
                           preprocessing=scene_preprocessing(model, "model"))


def test_scene_one_image_at_a_time_writes_the_serial_bytes(monkeypatch, tmp_path, photos, scene_model):
    from photoprivacy.scene import stage

    overlapped, serial_files = run_both(monkeypatch, stage, tmp_path,
                                        functools.partial(run_scene, photos, scene_model, batch_size=1))
    assert len(overlapped) == 2 * len(photos) and overlapped == serial_files


def test_scene_batches_give_the_maps_of_single_images(monkeypatch, tmp_path, photos, scene_model):
    from photoprivacy.scene import stage

    counts = run_scene(photos, scene_model, tmp_path / "batched", batch_size=BATCH)
    assert counts == {"images": 5, "rejected": 2}
    with serial(monkeypatch, stage):
        run_scene(photos, scene_model, tmp_path / "single", batch_size=1)
    for photo in photos:
        batched = read_json(tmp_path / "batched" / f"{photo.stem}.json")
        single = read_json(tmp_path / "single" / f"{photo.stem}.json")
        for record in (batched, single):
            for entry in record["top_k"]:
                entry["probability"] = pytest.approx(entry["probability"], abs=2e-6)
        assert batched == single
        with np.load(tmp_path / "batched" / f"{photo.stem}.npz") as a, \
                np.load(tmp_path / "single" / f"{photo.stem}.npz") as b:
            assert a["relevance"].shape == b["relevance"].shape and a["relevance"].dtype == np.float32
            np.testing.assert_allclose(a["relevance"], b["relevance"], rtol=1e-5,
                                       atol=1e-6 * max(1e-12, float(np.abs(b["relevance"]).max(initial=0))))


def faces_items(tmp_path, counts):
    rows = []
    for index, n_faces in enumerate(counts):
        image_id = f"img{index}"
        faces = [{"face": k, "person": 0, "box_xyxy": [0, 0, 4, 4], "score": 0.9} for k in range(n_faces)]
        write_json(tmp_path / "faces" / f"{image_id}.json", {"faces": faces})
        rows.append({"id": image_id, "faces_json": str(tmp_path / "faces" / f"{image_id}.json"),
                     "npz": str(tmp_path / "{out}" / f"{image_id}.npz")})
    return rows


FACE_COUNTS = (2, 0, 3, 1)  # in batches of 4, the third image's faces span two generator calls


def noise_faces(seeds):
    """Stands in for the UNet's sampling: each face is its seed's first draw, so a face shows
    exactly which noise it got."""
    return np.stack([torch.rand((8, 8, 3), generator=torch.Generator().manual_seed(seed)).numpy() for seed in seeds])


@pytest.fixture
def face_generator(models):
    from photoprivacy.faces.generators import DiffusionFaceGenerator

    return DiffusionFaceGenerator(models / "face_generator", 3, "cpu", None)


def run_fakes(tmp_path, generator, out, batch_size=None):
    """The fakes stage with ``generator`` asking for ``batch_size`` faces per call (None: per image)."""
    from photoprivacy.faces.stage import run_fakes_shard

    generator.batch_size = batch_size
    rows = [dict(row, npz=row["npz"].format(out=out)) for row in faces_items(tmp_path, FACE_COUNTS)]
    return run_fakes_shard(rows, lambda: generator, 7)


def counting_calls(monkeypatch, generator):
    calls = []
    sample = generator._sample
    monkeypatch.setattr(generator, "_sample", lambda seeds: calls.append(len(seeds)) or sample(seeds))
    return calls


def test_fakes_by_default_write_the_serial_bytes_of_one_call_per_image(monkeypatch, tmp_path, face_generator):
    from photoprivacy.faces import stage

    calls = counting_calls(monkeypatch, face_generator)
    assert run_fakes(tmp_path, face_generator, "overlapped") == {"images": 4, "faces": sum(FACE_COUNTS)}
    assert calls == [2, 3, 1]
    with serial(monkeypatch, stage):
        run_fakes(tmp_path, face_generator, "serial")
    assert output_bytes(tmp_path / "overlapped") == output_bytes(tmp_path / "serial")
    for index, n_faces in enumerate(FACE_COUNTS):
        with np.load(tmp_path / "overlapped" / f"img{index}.npz") as arrays:
            expected = face_generator.generate(f"img{index}", n_faces, 7) if n_faces else np.zeros((0, 1, 1, 3))
            np.testing.assert_array_equal(arrays["faces"], expected)
            assert list(arrays["face"]) == list(range(n_faces))


def test_fakes_batched_across_images_give_every_face_its_own_noise(monkeypatch, tmp_path, face_generator):
    from photoprivacy.faces import stage

    face_generator._sample = noise_faces
    calls = counting_calls(monkeypatch, face_generator)
    run_fakes(tmp_path, face_generator, "batched", batch_size=4)
    assert calls == [4, 2]
    with serial(monkeypatch, stage):
        run_fakes(tmp_path, face_generator, "one_by_one", batch_size=1)
    assert calls[2:] == [1] * sum(FACE_COUNTS)
    run_fakes(tmp_path, face_generator, "per_image")
    assert output_bytes(tmp_path / "batched") == output_bytes(tmp_path / "one_by_one")
    assert output_bytes(tmp_path / "batched") == output_bytes(tmp_path / "per_image")


def test_fakes_batched_with_the_unet_equal_one_by_one_up_to_rounding(tmp_path, face_generator):
    """Batched convolutions round differently: a face may move by one level in a few values."""
    run_fakes(tmp_path, face_generator, "batched", batch_size=4)
    run_fakes(tmp_path, face_generator, "one_by_one", batch_size=1)
    for index in range(len(FACE_COUNTS)):
        with np.load(tmp_path / "batched" / f"img{index}.npz") as a, \
                np.load(tmp_path / "one_by_one" / f"img{index}.npz") as b:
            assert a["faces"].shape == b["faces"].shape and list(a["face"]) == list(b["face"])
            difference = np.abs(a["faces"].astype(int) - b["faces"].astype(int))
            assert difference.max(initial=0) <= 1 and np.count_nonzero(difference) <= 0.005 * difference.size


def test_generate_many_yields_each_image_in_order_as_soon_as_its_faces_are_done(monkeypatch, face_generator):
    calls = counting_calls(monkeypatch, face_generator)
    requests = [("a", 0), ("b", 3), ("c", 0), ("d", 1)]
    produced = face_generator.generate_many(requests, seed=0, batch_size=2)
    first = next(produced)
    assert first.shape == (0, 32, 32, 3) and calls == []  # no sampling for an image without faces
    second = next(produced)
    assert second.shape == (3, 32, 32, 3) and calls == [2, 2]  # b's faces span two calls
    assert [faces.shape[0] for faces in produced] == [0, 1] and calls == [2, 2]
    with pytest.raises(ValueError, match="batch_size"):
        next(face_generator.generate_many(requests, 0, batch_size=0))


def test_generators_without_batching_give_one_generate_per_image(tmp_path):
    from photoprivacy.faces.generators import DonorFaceGenerator, NoFaceGenerator

    for index in range(3):
        save_image(tmp_path / "donors" / f"face{index}.png", np.full((40, 30, 3), 50 * index, np.uint8))
    donor = DonorFaceGenerator(tmp_path / "donors", 10**8, size=16)
    many = list(donor.generate_many([("x", 2), ("y", 0), ("z", 1)], seed=3, batch_size=8))
    for faces, (image_id, n_faces) in zip(many, [("x", 2), ("y", 0), ("z", 1)], strict=True):
        np.testing.assert_array_equal(faces, donor.generate(image_id, n_faces, 3))
    assert [f.shape for f in NoFaceGenerator().generate_many([("x", 2)], 0, 4)] == [(0, 1, 1, 3)]


def test_evaluate_gives_the_serial_rows(monkeypatch, tmp_path, photos, detector, captioner):
    from photoprivacy.caption.word_attention import caption_texts
    from photoprivacy.evaluate import stage

    folder = tmp_path / "inputs"
    folder.mkdir()
    for photo in photos:
        write_json(folder / f"{photo.stem}.detect.json", {"detections": [
            {"label": "person", "box_xyxy": [10, 10, 60, 90]}]})
        write_json(folder / f"{photo.stem}.caption.json", {"caption": "a man riding a horse on a beach"})
        write_json(folder / f"{photo.stem}.language.json", {"w1": [{"word": "horse"}], "w2": ["beach"]})
        try:
            image = np.asarray(Image.open(photo).convert("RGB"))
        except OSError:
            image = None
        if image is not None and photo.stem != "coco02":  # coco02's protected copy is missing: rejected
            protected = image.copy()
            protected[10:90, 10:60] = 128
            save_image(folder / f"{photo.stem}.png", protected)
        write_json(folder / f"{photo.stem}.decisions.json", {
            "status": "ok" if image is not None else "rejected",
            "reason": None if image is not None else "cannot decode",
            "regions": [{"kind": "person", "region": [10, 10, 60, 90], "method": "mosaic"}]})
    rows = items(photos, tmp_path, detect_json=(folder, ".detect.json"), caption_json=(folder, ".caption.json"),
                 language_json=(folder, ".language.json"), png=(folder, ".png"),
                 decisions=(folder, ".decisions.json"))
    evaluators = stage.Evaluators(faces=lambda image: [([5, 5, 20, 20], 0.9)] if image.mean() > 100 else [],
                                  persons=detector,
                                  caption=lambda images: caption_texts(captioner, images, max_new_tokens=8,
                                                                      num_beams=1))
    settings = {"face_threshold": 0.5, "iou": 0.5, "person_coverage": 0.5}
    params = {"variant": "v", "scenario": "scenario2", "evaluate": settings}

    overlapped = stage.run_evaluate_shard(rows, params, evaluators, BATCH, 10**8)
    with serial(monkeypatch, stage):
        serial_rows = stage.run_evaluate_shard(rows, params, evaluators, BATCH, 10**8)
    assert [row["status"] for row in overlapped].count("ok") == 4
    assert pd.DataFrame(overlapped).equals(pd.DataFrame(serial_rows))
