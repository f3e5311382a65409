"""Protection that holds on real photos: the workflow on the shared photos and 2x / 3x copies of
them (faces up to about 300 px), with hand-written person boxes (the annotations detector, so the
result does not depend on random DETR weights), at the default strength, for every method.

Privacy is measured as the evaluate stage measures it: CenterFace finding an original face again
inside an obfuscated region, and dlib's face recogniser re-identifying a protected face (at least
48 px wide) at rank 1 in the gallery of the run's faces, no more often than the same faces erased
to a flat patch. Its cost: every mosaicked face keeps about 6 blocks across (4 to 8).
"""

import json

import cv2
import numpy as np
import pandas as pd
import pytest
import yaml
from test_workflow import snakemake

from photoprivacy.artifacts import read_json
from photoprivacy.faces.detectors import CenterFaceDetector
from photoprivacy.images import load_rgb

from conftest import MAX_PIXELS, REPO, SHARED_PHOTOS, default_config

pytestmark = pytest.mark.workflow

BOXES = REPO / "tests" / "data" / "shared_persons.json"
SCALES = (1, 2, 3)
# The base variant uses the defaults (scenario 1: random mosaic, scenario 2: mosaic of minors).
VARIANTS = {
    "pixelate": {"render": {"scenario1": {"method": "pixelate"}, "minor": {"method": "pixelate"}}},
    "blur": {"render": {"scenario1": {"method": "blur"}, "minor": {"method": "blur"}}},
}


def scaled_photos_and_boxes(photos):
    """Each shared photo at 1x, 2x and 3x (bicubic) into ``photos``, and the COCO JSON of their boxes."""
    coco = json.loads(BOXES.read_text())
    names = {image["id"]: image["file_name"] for image in coco["images"]}
    out = {"categories": coco["categories"], "images": [], "annotations": []}
    for image in coco["images"]:
        rgb = load_rgb(SHARED_PHOTOS / image["file_name"], MAX_PIXELS)
        for scale in SCALES:
            name = f"x{scale}_{image['file_name'].rsplit('.', 1)[0]}.png"
            scaled = rgb if scale == 1 else cv2.resize(rgb, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
            cv2.imwrite(str(photos / name), cv2.cvtColor(scaled, cv2.COLOR_RGB2BGR))
            image_id = len(out["images"]) + 1
            out["images"].append({"id": image_id, "file_name": name})
            for annotation in coco["annotations"]:
                if names[annotation["image_id"]] == image["file_name"]:
                    out["annotations"].append({**annotation, "id": len(out["annotations"]) + 1, "image_id": image_id,
                                               "bbox": [v * scale for v in annotation["bbox"]]})
    return out


@pytest.fixture(scope="module")
def privacy_project(tmp_path_factory):
    if not SHARED_PHOTOS.is_dir():
        pytest.skip(f"no shared photos in {SHARED_PHOTOS}")
    workdir = tmp_path_factory.mktemp("privacy")
    photos = workdir / "photos"
    photos.mkdir()
    (workdir / "persons.json").write_text(json.dumps(scaled_photos_and_boxes(photos)))
    config = default_config()
    config["input"]["images"] = str(photos)
    config["execution"].update(shards=2, batch_size=2)
    config["detect"].update(method="annotations", annotations=str(workdir / "persons.json"))
    config["fakes"]["steps"] = 5
    config["evaluate"].update(recaption=False)  # tiny random captioners write gibberish
    config["figures"]["panels"] = 0
    config["sweep"]["variants"] = VARIANTS
    (workdir / "config.yaml").write_text(yaml.safe_dump(config))
    snakemake(workdir, "--configfile", str(workdir / "config.yaml"))
    return workdir


def test_no_face_is_found_again_or_recognised_at_defaults(privacy_project):
    rows = pd.read_csv(privacy_project / "results" / "metrics" / "images.csv")
    assert set(rows["status"]) == {"ok"} and len(rows) == 12 * 2 * 3  # images x scenarios x variants
    leaks = rows[rows["faces_redetected"] > 0]
    assert leaks.empty, leaks[["variant", "scenario", "image_id", "faces_redetected"]].to_string()
    # dlib re-identifies protected faces no more often than the same faces erased to a flat patch (+ 1 face).
    variants = pd.read_csv(privacy_project / "results" / "metrics" / "variants.csv")
    assert len(variants) == 2 * 3
    for row in variants.itertuples():
        assert row.faces_reidentified <= row.erased_reidentified + 1, row
    # The measures did see faces: CenterFace ones in obfuscated regions, and large ones checked by dlib.
    for scenario in ("scenario1", "scenario2"):
        for variant in ("default", *VARIANTS):
            part = rows[(rows["scenario"] == scenario) & (rows["variant"] == variant)]
            assert part["faces_checked"].sum() >= 10, (scenario, variant)
    assert rows[rows["scenario"] == "scenario1"]["faces_original"].sum() > 0
    assert rows[rows["scenario"] == "scenario2"]["faces_original"].sum() > 0


def _centre(box):
    return (box[0] + box[2]) / 2, (box[1] + box[3]) / 2


def _inside(point, region):
    return region[0] <= point[0] < region[2] and region[1] <= point[1] < region[3]


def _faces_of_listed_persons(photo, boxes):
    """Boxes of the CenterFace faces (score > 0.5) of the original centred in one of the person boxes."""
    faces = CenterFaceDetector(0.5, None)(load_rgb(photo, MAX_PIXELS))
    return [face for face, _ in faces if any(_inside(_centre(face), box) for box in boxes)]


def _listed_faces(project):
    """(image id, boxes of its listed persons' faces) for every photo of the project."""
    coco = json.loads((project / "persons.json").read_text())
    for image in coco["images"]:
        boxes = [[a["bbox"][0], a["bbox"][1], a["bbox"][0] + a["bbox"][2], a["bbox"][1] + a["bbox"][3]]
                 for a in coco["annotations"] if a["image_id"] == image["id"]]
        yield image["file_name"].rsplit(".", 1)[0], _faces_of_listed_persons(project / "photos" / image["file_name"],
                                                                             boxes)


@pytest.fixture(scope="module")
def listed_faces(privacy_project):
    return dict(_listed_faces(privacy_project))


def test_every_mosaicked_face_keeps_4_to_8_blocks_across_in_both_scenarios(privacy_project, listed_faces):
    """The cost of protection: at the defaults each face of a listed person at least 40 px wide (CenterFace
    on the original) gets a mosaic of 4 to 8 blocks across, in scenario 1 (random mosaic: the patch side
    drawn) and, for minor persons and unfound heads, in scenario 2."""
    final = privacy_project / "results" / "final" / "default"
    blocks = {"scenario1": [], "scenario2": []}
    for image_id, faces in listed_faces.items():
        for scenario in blocks:
            decisions = read_json(final / scenario / f"{image_id}.decisions.json")
            changed = [r for r in decisions["regions"] if r["method"] and r.get("region")]  # scenario 2: boxes
            replaced = [r["region"] for r in changed if r["method"].startswith("replace:")]
            hidden = [r["region"] for r in changed if not r["method"].startswith("replace:")]
            for face in faces:
                width, centre = face[2] - face[0], _centre(face)
                if width < 40 or any(_inside(centre, region) for region in replaced):
                    continue
                if scenario == "scenario2" and not any(_inside(centre, region) for region in hidden):
                    continue  # not obfuscated here: the next test checks that every face is covered
                zone = [z for z in decisions["strength_zones"] if _inside(centre, z["box_xyxy"])][-1]
                blocks[scenario].append((image_id, round(width), zone["kind"], zone["block"], width / zone["block"]))
    for scenario, found in blocks.items():
        outside = [face for face in found if not 4 <= face[-1] <= 8]
        assert not outside, (scenario, outside)
    # Small faces in city.jpg at 2x and 3x, large ones in coco01 and astronaut; minors only in scenario 2.
    assert len(blocks["scenario1"]) >= 30 and len(blocks["scenario2"]) >= 15, blocks


def test_every_face_of_a_listed_person_is_in_a_protected_region(privacy_project, listed_faces):
    results = privacy_project / "results"
    checked = 0
    for image_id, faces in listed_faces.items():
        centres = [_centre(face) for face in faces]
        decisions = read_json(results / "final" / "default" / "scenario2" / f"{image_id}.decisions.json")
        regions = [r["region"] for r in decisions["regions"] if r["region"] is not None and r["method"]]
        with np.load(results / "masks" / f"{image_id}.npz") as masks:
            persons_mask = masks["persons"]
        for x, y in centres:
            assert any(x0 <= x < x1 and y0 <= y < y1 for x0, y0, x1, y1 in regions), (image_id, x, y)
            assert persons_mask[int(y), int(x)], (image_id, x, y)
        checked += len(centres)
    assert checked >= 3 * (1 + 17 + 2)  # astronaut, city, coco01 at every scale


def test_majors_without_a_found_face_get_their_head_protected_and_logged(privacy_project):
    results = privacy_project / "results"
    heads = []
    for path in sorted((results / "final" / "default" / "scenario2").glob("*.decisions.json")):
        heads += [r for r in read_json(path)["regions"] if r["kind"] == "head"]
    # coco02's distant people have no face CenterFace accepts at 1x: their majors' heads are mosaicked.
    assert heads and all(r["method"] == "mosaic" and "head region" in r["note"] for r in heads)
