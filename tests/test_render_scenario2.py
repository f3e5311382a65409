"""Scenario 2 rendering: regions, decision log, determinism, and a privacy check on a real photo."""

from pathlib import Path

import numpy as np
import pytest

from photoprivacy.artifacts import read_json, write_json, write_npz
from photoprivacy.faces.detectors import CenterFaceDetector
from photoprivacy.images import load_rgb
from photoprivacy.render.scenario2 import NO_GENERATOR_WARNING, render_scenario2, run_render_shard

from conftest import MAX_PIXELS, gradient_image, save_image, schema_validator

PARAMS = {
    "variant": "default", "seed": 0, "generator": "diffusion", "version": 1,
    "strength": {"mode": "relative", "blocks_per_face": 6, "blur_per_face": 6, "face_per_person": 0.3},
    "minor": {"method": "mosaic", "block_size": 9, "blur_sigma": 15.0},
    "face": {"blend": "feather", "colour_match": True, "feather": 0.15, "fallback_block_size": 9,
             "no_face": "protect_head"},
}


def person(index, box, role):
    return {"person": index, "detection": index, "box_xyxy": box, "detection_score": 0.99, "attention_score": 3,
            "distance": 10.0, "attention_rank": 1, "distance_rank": 1, "final_score": 1.0, "role": role}


def records(persons, faces, other_faces=()):
    return ({"image_id": "x", "status": "ok", "reason": None, "persons": persons},
            {"image_id": "x", "status": "ok", "reason": None, "faces": faces, "other_faces": list(other_faces)})


def outside(shape, regions):
    mask = np.ones(shape[:2], bool)
    for x0, y0, x1, y1 in regions:
        mask[y0:y1, x0:x1] = False
    return mask


def test_minor_mosaic_and_major_face_change_only_their_boxes():
    image = gradient_image(60, 80)
    persons, faces = records(
        [person(0, [5.5, 5, 30, 50], "minor"), person(1, [40, 0, 80, 60], "major")],
        [{"face": 0, "person": 1, "box_xyxy": [50, 5, 70, 25], "score": 0.9}],
    )
    fakes = np.full((1, 32, 32, 3), 128, np.uint8)
    out, regions, _, warnings = render_scenario2(image, persons, faces, fakes, PARAMS)
    # The face's feather band reaches round(0.15 * 20) = 3 px past its box.
    assert [r["region"] for r in regions] == [[5, 5, 30, 50], [47, 2, 73, 28]]
    assert [r["method"] for r in regions] == ["mosaic", "replace:diffusion"]
    assert regions[0]["why"]["role"] == "minor" and regions[1]["why"]["role"] == "major"
    # No face found: 0.3 x 24.5 px estimated, whose 6 blocks would be under the 9 px floor.
    assert regions[0]["parameters"] == {"block_size": 9, "face_width": 7.35, "width_source": "person_box"}
    np.testing.assert_array_equal(out[outside(image.shape, [(5, 5, 30, 50), (47, 2, 73, 28)])],
                                  image[outside(image.shape, [(5, 5, 30, 50), (47, 2, 73, 28)])])
    assert (out[5:14, 5:14] == image[5, 5]).all()  # a 9 px mosaic block takes its top-left pixel
    assert regions[1]["box_xyxy"] == [50, 5, 70, 25]
    assert warnings == []


def test_without_generator_faces_are_pixelated_with_a_warning():
    image = gradient_image(40, 40)
    persons, faces = records([person(0, [0, 0, 40, 40], "major")],
                             [{"face": 0, "person": 0, "box_xyxy": [10, 10, 28, 28], "score": 0.8}])
    out, regions, _, warnings = render_scenario2(image, persons, faces, np.zeros((0, 1, 1, 3), np.uint8),
                                              dict(PARAMS, generator="none"))
    assert warnings == [NO_GENERATOR_WARNING] and regions[0]["method"] == "pixelate"
    assert regions[0]["note"] == NO_GENERATOR_WARNING
    assert not np.array_equal(out[10:28, 10:28], image[10:28, 10:28])


@pytest.mark.parametrize("method", ["mosaic", "pixelate", "blur"])
def test_bad_boxes_do_not_crash(method):
    image = gradient_image(30, 40)
    persons, faces = records(
        [person(0, [-20, -20, 10, 10], "minor"),  # partly outside the image
         person(1, [15, 15, 15, 25], "minor"),  # zero area
         person(2, [100, 100, 120, 120], "minor"),  # wholly outside
         person(3, [30, 0, 33, 5], "major")],  # a major whose face is larger than the person box
        [{"face": 0, "person": 3, "box_xyxy": [20, 0, 40, 30], "score": 0.6}],  # ...and at the border
    )
    params = dict(PARAMS, minor=dict(PARAMS["minor"], method=method))
    out, regions, _, _ = render_scenario2(image, persons, faces, np.full((1, 32, 32, 3), 90, np.uint8), params)
    assert [r["region"] for r in regions] == [[0, 0, 10, 10], None, None, [17, 0, 40, 30]]  # feather: 3 px, clipped
    assert regions[1]["method"] is None and "no area" in regions[1]["note"]
    np.testing.assert_array_equal(out[10:, :17], image[10:, :17])


def render_files(tmp_path, image, persons, faces, fakes, params, name="out"):
    path = save_image(tmp_path / "in.png", image)
    item = {"path": str(path), "persons_json": str(tmp_path / "p.json"), "faces_json": str(tmp_path / "f.json"),
            "fakes_npz": str(tmp_path / "k.npz"), "png": str(tmp_path / f"{name}.png"),
            "decisions": str(tmp_path / f"{name}.json")}
    write_json(item["persons_json"], persons)
    write_json(item["faces_json"], faces)
    write_npz(item["fakes_npz"], faces=fakes, face=np.arange(len(fakes)))
    run_render_shard([item], params, max_pixels=10**8)
    return item


def test_same_inputs_give_identical_bytes_and_a_valid_log(tmp_path):
    persons, faces = records([person(0, [0, 0, 20, 20], "minor"), person(1, [20, 0, 60, 40], "major")],
                             [{"face": 0, "person": 1, "box_xyxy": [30, 5, 50, 25], "score": 0.9}])
    fakes = np.random.default_rng(0).integers(0, 255, (1, 32, 32, 3), dtype=np.uint8)
    one = render_files(tmp_path, gradient_image(40, 60), persons, faces, fakes, PARAMS, "one")
    two = render_files(tmp_path, gradient_image(40, 60), persons, faces, fakes, PARAMS, "two")
    for key in ("png", "decisions"):
        assert Path(one[key]).read_bytes() == Path(two[key]).read_bytes()
    log = read_json(one["decisions"])
    schema_validator("decisions.schema.json").validate(log)
    assert log["status"] == "ok" and log["seed"] == 0 and len(log["regions"]) == 2


def test_rejected_image_gets_a_placeholder_and_the_reason(tmp_path):
    persons = {"image_id": "x", "status": "rejected", "reason": "empty file (0 bytes)", "persons": []}
    faces = {"image_id": "x", "status": "rejected", "reason": "empty file (0 bytes)", "faces": [], "other_faces": []}
    item = render_files(tmp_path, gradient_image(4, 4), persons, faces, np.zeros((0, 1, 1, 3), np.uint8), PARAMS)
    assert load_rgb(item["png"], MAX_PIXELS).shape == (1, 1, 3)
    log = read_json(item["decisions"])
    assert log["status"] == "rejected" and log["reason"] == "empty file (0 bytes)" and log["regions"] == []


# coco01.jpg (511 x 640), boxes written by hand: the man pouring wine and the woman behind him.
COCO01_MAN = [0, 30, 410, 640]
COCO01_WOMAN = [300, 25, 490, 620]


@pytest.mark.parametrize("method", ["mosaic", "blur"])
def test_privacy_no_face_left_in_minor_boxes_of_a_real_photo(shared_photos, method):
    image = load_rgb(next(p for p in shared_photos if p.name == "coco01.jpg"), MAX_PIXELS)
    detector = CenterFaceDetector(threshold=0.5, max_side=1280)
    assert len(detector(image)) == 2  # both faces are found before protection
    persons, faces = records([person(0, COCO01_MAN, "minor"), person(1, COCO01_WOMAN, "minor")], [])
    params = dict(PARAMS, minor=dict(PARAMS["minor"], method=method))
    out, regions, _, _ = render_scenario2(image, persons, faces, np.zeros((0, 32, 32, 3), np.uint8), params)
    boxes = [r["region"] for r in regions]
    for (x0, y0, x1, y1), _score in detector(out):
        centre = ((x0 + x1) / 2, (y0 + y1) / 2)
        assert not any(bx0 <= centre[0] < bx1 and by0 <= centre[1] < by1 for bx0, by0, bx1, by1 in boxes)
    np.testing.assert_array_equal(out[outside(image.shape, boxes)], image[outside(image.shape, boxes)])


def test_a_major_without_a_face_gets_its_head_region_obfuscated():
    image = gradient_image(120, 100)
    persons, faces = records([person(0, [10, 20, 50, 110], "major")], [])
    out, regions, zones, _ = render_scenario2(image, persons, faces, np.zeros((0, 32, 32, 3), np.uint8), PARAMS)
    # The head region: the top of the box, as tall as the box is wide (40 px).
    [entry] = regions
    assert entry["kind"] == "head" and entry["region"] == [10, 20, 50, 60] and entry["method"] == "mosaic"
    assert entry["note"] == "no face found in the major person's box: the head region is obfuscated instead"
    assert entry["parameters"] == {"block_size": 9, "face_width": 12.0, "width_source": "person_box"}  # 0.3 x 40
    changed = np.any(out != image, axis=2)
    assert changed[20:60, 10:50].mean() > 0.8 and not changed[60:].any() and not changed[:, 50:].any()
    schema_validator("decisions.schema.json").validate(
        {"schema_version": 2, "image_id": "x", "scenario": "scenario2", "variant": "default", "status": "ok",
         "reason": None, "seed": 0, "regions": regions, "strength_zones": zones, "warnings": [],
         "provenance": {"stage": "render_scenario2", "stage_version": 2, "model": None, "packages": {},
                        "params": PARAMS}})


def test_a_majors_head_is_sized_by_a_face_only_the_whole_photo_pass_found():
    image = gradient_image(200, 100)
    persons, faces = records([person(0, [10, 20, 90, 190], "major")], [],
                             [{"person": 0, "box_xyxy": [20, 30, 80, 90], "score": 0.6, "source": "photo"}])
    out, [entry], zones, _ = render_scenario2(image, persons, faces, np.zeros((0, 32, 32, 3), np.uint8), PARAMS)
    assert entry["kind"] == "head" and entry["region"] == [10, 20, 90, 100]
    assert entry["parameters"] == {"block_size": 10, "face_width": 60.0, "width_source": "face"}  # 60 / 6
    assert [(z["kind"], z["block"]) for z in zones] == [("person", 10), ("face", 10)]
    assert not np.any(out[100:] != image[100:])


def test_the_original_behaviour_keeps_an_unfound_face_and_says_so():
    image = gradient_image(120, 100)
    persons, faces = records([person(0, [10, 20, 50, 110], "major")], [])
    params = dict(PARAMS, face=dict(PARAMS["face"], no_face="keep"))
    out, [entry], _, _ = render_scenario2(image, persons, faces, np.zeros((0, 32, 32, 3), np.uint8), params)
    np.testing.assert_array_equal(out, image)
    assert entry["kind"] == "head" and entry["region"] is None and entry["method"] is None
    assert "left as it is" in entry["note"]


def test_minor_strength_follows_its_face_and_original_mode_keeps_9_px():
    image = gradient_image(400, 300)
    empty = np.zeros((0, 32, 32, 3), np.uint8)
    persons, faces = records([person(0, [0, 0, 240, 400], "minor")], [])
    _, [estimated], _, _ = render_scenario2(image, persons, faces, empty, PARAMS)
    # No face found: 0.3 x 240 = 72 px estimated, 6 blocks across it -> 12 px blocks.
    assert estimated["parameters"] == {"block_size": 12, "face_width": 72.0, "width_source": "person_box"}
    persons, faces = records([person(0, [0, 0, 240, 400], "minor")], [],
                             [{"person": 0, "box_xyxy": [60, 20, 180, 160], "score": 0.9}])
    out, [relative], zones, _ = render_scenario2(image, persons, faces, empty, PARAMS)
    assert relative["parameters"] == {"block_size": 20, "face_width": 120.0, "width_source": "face"}  # 120 / 6
    assert [(z["kind"], z["box_xyxy"], z["block"], z["blocks_across"]) for z in zones] == [
        ("person", [0, 0, 240, 400], 20, 6.0), ("face", [60, 20, 180, 160], 20, 6.0)]
    assert (out[20:40, 60:80] == image[20, 60]).all()  # the face's own 20 px grid starts at its corner
    blurred = dict(PARAMS, minor=dict(PARAMS["minor"], method="blur"))
    _, [blur], zones, _ = render_scenario2(image, persons, faces, empty, blurred)
    assert blur["parameters"]["sigma"] == 20.0 and zones[0]["sigma"] == 20.0 and zones[0]["block"] is None
    original = dict(PARAMS, strength=dict(PARAMS["strength"], mode="original"))
    _, [fixed], _, _ = render_scenario2(image, persons, faces, empty, original)
    assert fixed["parameters"] == {"block_size": 9, "face_width": 120.0, "width_source": "face"}


def test_a_head_region_never_covers_another_majors_new_face():
    image = gradient_image(100, 100)
    persons, faces = records([person(0, [0, 0, 60, 100], "major"), person(1, [40, 0, 100, 100], "major")],
                             [{"face": 0, "person": 1, "box_xyxy": [45, 10, 75, 40], "score": 0.9}])
    params = dict(PARAMS, face=dict(PARAMS["face"], blend="hard", colour_match=False))
    out, regions, _, _ = render_scenario2(image, persons, faces, np.full((1, 32, 32, 3), 200, np.uint8), params)
    assert [r["kind"] for r in regions] == ["head", "face"]
    assert regions[0]["region"] == [0, 0, 60, 60]  # overlaps the face box [45, 10, 75, 40]
    assert (out[10:40, 45:75] == 200).all()  # the generated face, not a mosaic of it


def test_face_settings_keep_what_the_generator_needs():
    from photoprivacy.render.scenario2 import face_settings

    face = {"blend": "feather", "colour_match": True, "feather": 0.15, "fallback_block_size": 9,
            "no_face": "protect_head"}
    assert face_settings(face, "diffusion") == {"blend": "feather", "colour_match": True, "feather": 0.15,
                                                "no_face": "protect_head"}
    assert face_settings(face, "donor") == face_settings(face, "diffusion")
    assert face_settings(face, "none") == {"fallback_block_size": 9, "no_face": "protect_head"}
