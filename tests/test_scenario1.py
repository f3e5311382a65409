"""Scenario 1 after the models: relations records, component masks, rendering through the union."""

import numpy as np
import pytest

from photoprivacy.evaluate.stage import protected_masks
from photoprivacy.masks.components import caption_word_indices, words_mask
from photoprivacy.masks.stage import build_masks, read_masks
from photoprivacy.relations.stage import relations_record
from photoprivacy.render.scenario1 import render_scenario1

from conftest import gradient_image, schema_validator

PROVENANCE_FREE = {"containment": 0.5}


def detection(detections, width=100, height=80, status="ok"):
    return {"image_id": "x", "status": status, "reason": None if status == "ok" else "empty file (0 bytes)",
            "image": {"width": width, "height": height} if status == "ok" else None,
            "attention": {"available": True, "grid": [2, 2]},
            "detections": [dict(d, index=i) for i, d in enumerate(detections)]}


MAN = {"label_id": 1, "label": "person", "score": 0.99, "box_xyxy": [10, 10, 40, 70], "query": 0}
HORSE = {"label_id": 19, "label": "horse", "score": 0.95, "box_xyxy": [35, 30, 90, 75], "query": 1}
KITE = {"label_id": 38, "label": "kite", "score": 0.95, "box_xyxy": [80, 0, 95, 10], "query": 2}
NO_PEOPLE = ({"persons": []}, {"faces": [], "other_faces": []})  # persons and faces records: nothing sized per face


def test_relations_record_edges_and_reasons():
    record = relations_record(detection([MAN, HORSE, KITE]), {"w1": [{"word": "horse"}]}, PROVENANCE_FREE)
    predicates = {(e["predicate"], e["object"]) for e in record["edges"]}
    assert ("nearest", 1) in predicates and ("overlaps", 1) in predicates and ("action_object", 1) in predicates
    assert record["persons"] == [0] and record["objects"] == [1, 2] and record["reason"] is None
    assert relations_record(detection([HORSE]), {"w1": []}, PROVENANCE_FREE)["reason"] == "no person detected"
    assert relations_record(detection([MAN]), {"w1": []}, PROVENANCE_FREE)["reason"] == "no object detected"
    rejected = relations_record(detection([], status="rejected"), {}, PROVENANCE_FREE)
    assert rejected["status"] == "rejected" and rejected["edges"] == []
    schema_validator("relations.schema.json").validate(record)


def test_caption_word_indices_match_compounds_and_punctuation():
    words = ["a", "man", "in", "a", "coffee", "shop.", "Man"]
    assert caption_word_indices("coffee shop", words) == [4, 5]
    assert caption_word_indices("man", words) == [1, 6]
    assert caption_word_indices("horse", words) == []


def test_words_mask_thresholds_each_word_map():
    maps = np.zeros((3, 2, 2), np.float32)
    maps[1] = [[0, 0], [0, 1]]  # "horse": bottom-right cell
    maps[2] = 0.3  # constant map: carries no location
    mask, note = words_mask(["horse", "beach"], ["a", "horse", "beach"], maps, 4, 4, 0.5, "bilinear")
    assert mask[3, 3] and not mask[0, 0]
    assert "beach: relevance map is constant" in note
    empty, note = words_mask([], ["a"], maps, 4, 4, 0.5, "bilinear")
    assert not empty.any() and "no such words" in note


PARAMS = {"object_predicates": ["nearest", "action_object"], "word_threshold": 0.5, "word_upsampling": "bilinear",
          "scene_threshold": 0.5}


def masks_for(det, w1=(), w2=(), grid=None, scene_status="ok"):
    relations = relations_record(det, {"w1": [{"word": w} for w in w1]}, PROVENANCE_FREE)
    caption = {"words": ["a", "man", "riding", "a", "horse", "on", "the", "beach"]}
    maps = np.zeros((8, 2, 2), np.float32)
    maps[4] = [[0, 0], [0, 1]]  # horse -> bottom right
    maps[7] = [[1, 0], [0, 0]]  # beach -> top left
    scene = {"status": scene_status, "reason": None if scene_status == "ok" else "relevance map has non-finite values",
             "label": "beach"}
    relevance = np.array([[0, 1], [0, 0]], np.float32) if grid is None else grid
    language = {"w1": [{"word": w} for w in w1], "w2": [{"word": w} for w in w2]}
    return build_masks(det, relations, caption, maps, language, scene, relevance, PARAMS)


def test_build_masks_components():
    masks, record = masks_for(detection([MAN, HORSE]), w1=["horse"], w2=["beach"])
    assert set(masks) == {"persons", "objects", "w1", "w2", "scene"}
    assert masks["persons"][10:70, 10:40].all() and masks["persons"].sum() == 30 * 60
    assert masks["objects"][30:75, 35:90].all() and masks["objects"].sum() == 55 * 45
    assert masks["w1"][79, 99] and not masks["w1"][0, 0]  # horse: bottom right
    assert masks["w2"][0, 0] and not masks["w2"][79, 99]  # beach: top left
    assert masks["scene"][0, 99] and not masks["scene"][79, 0]  # relevance: top right
    assert record["components"]["w1"]["source"] == {"words": ["horse"]}
    assert record["components"]["persons"]["pixels"] == 1800


def test_bad_inputs_give_empty_masks_with_reasons():
    masks, record = masks_for(detection([KITE]), grid=np.full((2, 2), np.nan, np.float32), scene_status="ok")
    notes = {name: c["note"] for name, c in record["components"].items()}
    assert notes["persons"] == "no person detected"
    assert notes["objects"] == "no related object"
    assert "no such words" in notes["w1"]
    assert notes["scene"] == "relevance map has non-finite values"
    assert not any(m.any() for m in masks.values())
    zero_maps, _ = masks_for(detection([MAN]), grid=np.zeros((2, 2), np.float32))
    assert not zero_maps["scene"].any()
    rejected, record = masks_for(detection([], status="rejected"))
    assert record["status"] == "rejected" and rejected["persons"].shape == (0, 0)


RENDER = {"components": ["persons", "objects"], "clean_kernel": 3, "feather_sigma": 0.0, "method": "blur",
          "mosaic_half_sizes": [2, 7], "block_size": 9, "blur_kernel": 45, "blur_sigma": 15.0, "noise_sigma": 25.0,
          "seed": 0, "variant": "default", "resize": None, "version": 1,
          "strength": {"mode": "relative", "blocks_per_face": 6, "blur_per_face": 6, "face_per_person": 0.3}}


def test_render_hides_only_the_enabled_components():
    image = np.random.default_rng(0).integers(0, 256, (80, 100, 3), dtype=np.uint8)
    masks, record = masks_for(detection([MAN, HORSE]), w1=["horse"], w2=["beach"])
    people = ({"persons": [{"person": 0, "box_xyxy": MAN["box_xyxy"], "role": "minor"}]},
              {"faces": [], "other_faces": []})
    params = dict(RENDER, components=["persons"])
    out, regions, zones, warnings = render_scenario1(image, masks, record, people, params, "x")
    # No face found: the person and its head (the top 30 px) at 0.3 x 30 px (the box's width).
    assert [(z["kind"], z["face_width"], z["width_source"]) for z in zones] == [("person", 9.0, "person_box"),
                                                                                ("head", 9.0, "person_box")]
    changed = np.any(out != image, axis=2)
    assert not changed[~masks["persons"]].any() and changed[masks["persons"]].mean() > 0.9
    assert [r["component"] for r in regions] == ["persons"] and warnings == []
    schema_validator("decisions.schema.json").validate(
        {"schema_version": 2, "image_id": "x", "scenario": "scenario1", "variant": "default", "status": "ok",
         "reason": None, "seed": 0, "regions": regions, "strength_zones": zones, "warnings": warnings,
         "provenance": {"stage": "render_scenario1", "stage_version": 1, "model": None, "packages": {},
                        "params": RENDER}})


@pytest.mark.parametrize("method", ["random_mosaic", "pixelate", "blur", "noise"])
def test_render_is_deterministic_and_seeded_per_image(method):
    image = gradient_image(80, 100)
    masks, record = masks_for(detection([MAN, HORSE]))
    params = dict(RENDER, method=method)
    first, regions, _, _ = render_scenario1(image, masks, record, NO_PEOPLE, params, "photo_a")
    again, _, _, _ = render_scenario1(image, masks, record, NO_PEOPLE, params, "photo_a")
    np.testing.assert_array_equal(first, again)
    assert regions[0]["seed"] != render_scenario1(image, masks, record, NO_PEOPLE, params, "photo_b")[1][0]["seed"]


def test_render_empty_union_and_the_336_quirk():
    image = gradient_image(80, 100)
    masks, record = masks_for(detection([KITE]))
    out, _, _, warnings = render_scenario1(image, masks, record, NO_PEOPLE, dict(RENDER, components=["persons"]), "x")
    np.testing.assert_array_equal(out, image)
    assert warnings == ["nothing to hide: the enabled mask components are empty"]
    masks, record = masks_for(detection([MAN]))
    out, _, _, warnings = render_scenario1(image, masks, record, NO_PEOPLE, dict(RENDER, resize=336), "x")
    assert out.shape == (336, 336, 3) and "336x336" in warnings[-1]


def test_336_quirk_works_at_336(tmp_path):
    """The original resized photo and masks to 336 first: a fixed block size is twice as coarse on a
    672 px photo. Columns repeat 0, 0, 10, 10, ..., 70, 70 at 672 px, so 0, 10, ..., 70 at 336."""
    column = (np.arange(672) // 2 % 8 * 10).astype(np.uint8)
    image = np.repeat(np.broadcast_to(column, (672, 672))[:, :, None], 3, axis=2).copy()
    quarter = np.zeros((672, 672), bool)
    quarter[:336, :336] = True
    masks = {"persons": quarter}
    record = {"components": {"persons": {"source": "detect", "note": None}}}
    params = dict(RENDER, components=["persons"], method="pixelate", block_size=8, resize=336,
                  strength=dict(RENDER["strength"], mode="original"))
    out, regions, _, warnings = render_scenario1(image, masks, record, NO_PEOPLE, params, "x")
    expected = np.repeat(np.broadcast_to(np.arange(336) % 8 * 10, (336, 336))[:, :, None], 3, axis=2).copy()
    expected[:168, :168] = 35  # the mean of 0, 10, ..., 70 in every 8 px block of the masked quarter
    np.testing.assert_array_equal(out, expected)
    assert regions[0]["pixels"] == 168 * 168 and "worked at 336x336" in warnings[0]
    # At full resolution the same 8 px blocks average 0, 0, 10, 10, ... 30, 30 or 40, 40, ... 70, 70.
    full, _, _, _ = render_scenario1(image, masks, record, NO_PEOPLE, dict(params, resize=None), "x")
    assert full.shape == image.shape
    np.testing.assert_array_equal(full[0, :336, 0], np.tile(np.repeat([15, 55], 8), 21))
    np.testing.assert_array_equal(full[336:], image[336:])
    # The evaluation measures on the same 336 px mask the renderer used.
    np.savez(tmp_path / "masks.npz", **masks)
    obfuscated, protected = protected_masks("scenario1", image.shape, None, read_masks(tmp_path / "masks.npz"), params)
    assert obfuscated.shape == (336, 336) and obfuscated.sum() == 168 * 168 and obfuscated[:168, :168].all()
