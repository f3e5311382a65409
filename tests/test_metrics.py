"""Per-image metrics and their per-variant aggregates, with exact expected values."""

import math

import numpy as np
import pandas as pd
import pytest

from photoprivacy.artifacts import load_schema
from photoprivacy.evaluate.metrics import (
    altered_fraction,
    blocks_across,
    caption_similarity,
    caption_tokens,
    covered_boxes,
    faces_in_mask,
    match_size,
    protected_fraction,
    psnr_outside,
    redetected,
    ssim_outside,
    words_kept,
    zone_at,
)
from photoprivacy.evaluate.tables import (
    AGGREGATE_COLUMNS,
    DESCRIPTOR_COLUMNS,
    FACE_COLUMNS,
    REIDENTIFICATION_COLUMNS,
    ROW_COLUMNS,
    aggregate,
    face_frame,
    write_table,
)
from photoprivacy.faces.detectors import CenterFaceDetector
from photoprivacy.geometry import box_iou, box_to_region, boxes_mask
from photoprivacy.images import load_rgb
from photoprivacy.render.methods import REGION_METHODS

from conftest import SCHEMAS, gradient_image


def test_identical_images():
    image = gradient_image(32, 40)
    nothing = np.zeros((32, 40), dtype=bool)
    assert ssim_outside(image, image.copy(), nothing) == pytest.approx(1.0)
    assert psnr_outside(image, image.copy(), nothing) == math.inf
    assert altered_fraction(image, image.copy()) == 0.0


def test_constant_offset_everywhere():
    image = np.full((16, 16, 3), 100, dtype=np.uint8)
    protected = image + 10
    nothing = np.zeros((16, 16), dtype=bool)
    assert psnr_outside(image, protected, nothing) == pytest.approx(10 * math.log10(65025 / 100))
    assert altered_fraction(image, protected) == 1.0
    assert ssim_outside(image, protected, nothing) < 1.0


def test_change_covered_exactly_by_the_mask():
    image = gradient_image(20, 30)
    protected = image.copy()
    protected[5:9, 10:16] = 0
    mask = boxes_mask([[10, 5, 16, 9]], *image.shape[:2])
    assert psnr_outside(image, protected, mask) == math.inf
    assert altered_fraction(image, protected) == pytest.approx(24 / 600)
    assert protected_fraction(mask) == pytest.approx(24 / 600)


def test_nothing_outside_the_mask_is_nan():
    image = gradient_image(16, 16)
    everything = np.ones((16, 16), dtype=bool)
    assert math.isnan(ssim_outside(image, image, everything))
    assert math.isnan(psnr_outside(image, image, everything))


def test_ssim_on_small_images():
    nothing = np.zeros((5, 9), dtype=bool)
    image = gradient_image(5, 9)
    assert ssim_outside(image, image.copy(), nothing) == pytest.approx(1.0)  # window shrinks to 5
    tiny = gradient_image(2, 9)
    assert math.isnan(ssim_outside(tiny, tiny, np.zeros((2, 9), dtype=bool)))


def test_boxes_mask_skips_none():
    mask = boxes_mask([[1, 0, 3, 2], None, [4, 3, 5, 4]], 4, 5)
    expected = np.array(
        [
            [0, 1, 1, 0, 0],
            [0, 1, 1, 0, 0],
            [0, 0, 0, 0, 0],
            [0, 0, 0, 0, 1],
        ],
        dtype=bool,
    )
    np.testing.assert_array_equal(mask, expected)


def test_match_size():
    image = gradient_image(20, 40)
    mask = boxes_mask([[0, 0, 20, 10]], *image.shape[:2])
    same_image, same_mask = match_size(image, mask, (20, 40, 3))
    assert same_image is image and same_mask is mask
    resized, resized_mask = match_size(image, mask, (10, 20, 3))
    assert resized.shape == (10, 20, 3) and resized.dtype == np.uint8
    assert resized_mask.dtype == bool
    np.testing.assert_array_equal(resized_mask, boxes_mask([[0, 0, 10, 5]], 10, 20))


def test_faces_in_mask():
    mask = boxes_mask([[0, 0, 10, 10]], 20, 20)
    faces = [
        ([2.0, 2.0, 6.0, 6.0], 0.9),  # centre (4, 4): inside
        ([2.0, 2.0, 6.0, 6.0], 0.4),  # inside but below the threshold
        ([2.0, 2.0, 6.0, 6.0], 0.5),  # equal to the threshold: rejected
        ([12.0, 12.0, 16.0, 16.0], 0.9),  # outside
        ([8.0, 8.0, 11.9, 11.9], None),  # centre 9.95 floors to 9: inside, no score accepted
        ([-10.0, -10.0, -2.0, -2.0], 0.9),  # centre off the image, clipped to (0, 0)
    ]
    assert faces_in_mask(faces, mask, 0.5) == [faces[0][0], faces[4][0], faces[5][0]]


def zone(box, block=None, sigma=None, kind="face"):
    return {"kind": kind, "person": 0, "box_xyxy": box, "face_width": 30.0, "width_source": "face",
            "method": "blur" if sigma else "mosaic", "block": block, "sigma": sigma, "blocks_across": None}


def test_blocks_across_takes_the_zone_painted_last_over_the_face_centre():
    person, face = zone([10, 20, 110, 320], block=9, kind="person"), zone([40, 25, 70, 60], block=6)
    other = zone([0, 0, 640, 480], block=10.0, kind="other")
    box = [40.0, 25.0, 70.0, 61.0]  # 30 px wide, centre pixel (55, 43)
    assert zone_at(box, [other, person, face]) is face
    assert blocks_across(box, [other, person, face]) == 5.0  # 30 / 6
    assert blocks_across(box, [person, face, other]) == 3.0  # the later "other" zone wins: 30 / 10
    assert blocks_across(box, [face, person]) == 30 / 9
    # A zone's box is end-exclusive: centre pixel x 55 is outside [10, 55)
    assert blocks_across(box, [person, zone([10, 20, 55, 320], block=1)]) == 30 / 9


def test_blocks_across_of_blur_uses_sigma():
    assert blocks_across([0.0, 0.0, 24.0, 30.0], [zone([0, 0, 100, 100], sigma=4.0)]) == 6.0


def test_blocks_across_is_nan_without_a_zone_a_size_or_strength_zones():
    box = [0.0, 0.0, 24.0, 30.0]
    assert math.isnan(blocks_across(box, None))  # a decision log written before strength zones
    assert math.isnan(blocks_across(box, []))
    assert math.isnan(blocks_across(box, [zone([50, 50, 100, 100], block=4)]))  # centre (12, 15) outside
    assert math.isnan(blocks_across(box, [zone([0, 0, 100, 100])]))  # noise: neither block nor sigma


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ([0, 0, 10, 10], [5, 0, 15, 10], 50 / 150),
        ([0, 0, 10, 10], [0, 0, 10, 10], 1.0),
        ([0, 0, 10, 10], [10, 0, 20, 10], 0.0),  # touching
        ([0, 0, 10, 10], [2, 2, 4, 4], 4 / 100),
        ([0, 0, 0, 10], [0, 0, 0, 10], 0.0),  # zero area
    ],
)
def test_box_iou(a, b, expected):
    assert box_iou(a, b) == pytest.approx(expected)


def test_covered_boxes():
    mask = boxes_mask([[0, 0, 10, 10]], 20, 20)
    boxes = [
        [0, 0, 10, 10],  # fully covered
        [0, 0, 10, 20],  # half covered
        [5.5, 0, 10, 10],  # grows to x 5..10: covered
        [-5, -5, 5, 5],  # clipped to 0..5: covered
        [10, 10, 20, 20],  # not covered
        [30, 30, 40, 40],  # outside the image: skipped
    ]
    assert covered_boxes(boxes, mask, 0.5) == [0, 1, 2, 3]
    assert covered_boxes(boxes, mask, 0.9) == [0, 2, 3]


def test_redetected_is_one_to_one():
    boxes = [[0, 0, 10, 10], [1, 0, 11, 10]]
    assert redetected(boxes, [[0, 0, 10, 10]], 0.5) == 1
    assert redetected(boxes, [[0, 0, 10, 10], [1, 0, 11, 10]], 0.5) == 2
    assert redetected(boxes, [[5, 0, 15, 10]], 0.5) == 0  # IoU 50/150 and 60/140
    assert redetected(boxes, [], 0.5) == 0


def test_redetected_greedy_takes_the_best_pair_first():
    boxes = [[0, 0, 10, 10], [4, 0, 14, 10]]
    detections = [[3, 0, 13, 10]]  # IoU 7/13 with the first box, 9/11 with the second
    assert redetected(boxes, detections, 0.5) == 1
    assert redetected(boxes, detections, 0.8) == 1
    assert redetected(boxes, detections, 0.9) == 0


def test_caption_tokens():
    assert caption_tokens("A man's Horse, 2 dogs!") == ["a", "man's", "horse", "2", "dogs"]
    assert caption_tokens(None) == []


def test_words_kept():
    caption = "A woman sitting in the living room with a dog"
    words = ["dog", "living room", {"word": "woman", "score": 0.3}, "room living", "cat", "Living"]
    assert words_kept(caption, words) == ["dog", "living room", "woman", "Living"]
    assert words_kept(None, ["dog"]) == []


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ("a man riding a horse", "a man on a horse", 0.8),
        ("a dog", "A DOG.", 1.0),
        ("", None, 1.0),
        ("a dog", "", 0.0),
        ("a dog", "the cat", 0.0),
        ("a dog", "a dog on a sofa", 2 * (2 / 5) * 1.0 / (2 / 5 + 1.0)),
    ],
)
def test_caption_similarity(a, b, expected):
    assert caption_similarity(a, b) == pytest.approx(expected)


def _row(variant, scenario, image_id, status="ok", **metrics):
    row = dict.fromkeys(ROW_COLUMNS)
    row.update(variant=variant, scenario=scenario, image_id=image_id, status=status, **metrics)
    return row


def _metric_rows():
    return pd.DataFrame(
        [
            _row("blur", "s1", "b", faces_original=2, faces_protected=1, faces_redetected=1, faces_checked=2,
                 identity_kept=1, identity_min_distance=0.41, persons_protected=2,
                 persons_redetected=0, w1_words=3, w1_kept=1, w2_words=1, w2_kept=1,
                 caption_similarity=0.5, ssim_outside=0.9, psnr_outside=30.0,
                 altered_fraction=0.2, protected_fraction=0.25),
            _row("blur", "s1", "a", faces_original=1, faces_protected=0, faces_redetected=0, faces_checked=1,
                 identity_kept=0, identity_min_distance=0.73, persons_protected=1,
                 persons_redetected=1, w1_words=1, w1_kept=0, w2_words=0, w2_kept=0,
                 caption_similarity=1.0, ssim_outside=1.0, psnr_outside=math.inf,
                 altered_fraction=0.0, protected_fraction=0.75),
            _row("blur", "s1", "c", status="rejected", reason="not an image"),
            _row("mosaic", "s1", "a", faces_original=0, faces_protected=0, faces_redetected=0, faces_checked=0,
                 identity_kept=0, identity_min_distance=math.nan, persons_protected=0,
                 persons_redetected=0, w1_words=0, w1_kept=0, w2_words=0, w2_kept=0,
                 caption_similarity=0.25, ssim_outside=0.5, psnr_outside=20.0,
                 altered_fraction=0.1, protected_fraction=0.1),
        ],
        columns=list(ROW_COLUMNS),
    )


def _face(variant, scenario, image_id, face, protection="obfuscated", blocks=math.nan, reidentified=None,
          erased=None):
    """A face row without descriptors (the aggregate does not read them); checked when ``reidentified`` is set."""
    row = dict.fromkeys((*FACE_COLUMNS, *REIDENTIFICATION_COLUMNS), math.nan)
    row.update(variant=variant, scenario=scenario, image_id=image_id, face=face, protection=protection,
               blocks_across=blocks, checked=reidentified is not None, reidentified=reidentified,
               erased_reidentified=erased, **{column: [] for column in DESCRIPTOR_COLUMNS})
    return row


def _face_rows():
    return face_frame([
        _face("blur", "s1", "b", 0, blocks=4.0, reidentified=True, erased=False),
        _face("blur", "s1", "b", 1, blocks=2.5, reidentified=False, erased=False),
        _face("blur", "s1", "a", 0, blocks=math.nan, reidentified=True, erased=True),  # no strength zone
        _face("blur", "s1", "a", 1, blocks=6.0),  # too small to check; its blocks count
        _face("blur", "s1", "a", 2, protection="replaced"),
        _face("blur", "s2", "a", 0, blocks=1.0, reidentified=True, erased=True),  # another scenario
    ], reidentification=True)


def _no_faces():
    return face_frame([], reidentification=True)


def test_aggregate_of_faces():
    faces = _face_rows()
    blur = aggregate(_metric_rows(), faces).to_dict("records")[0]
    expected = {"faces_reidentified": 2, "reidentification_rate": 2 / 3, "erased_reidentified": 1,
                "erased_reidentification_rate": 1 / 3, "blocks_across_median": 4.0, "blocks_across_min": 2.5}
    assert {key: blur[key] for key in expected} == expected
    # Without checked faces or finite blocks across: counts 0, rates and blocks empty.
    only_replaced = aggregate(_metric_rows(), faces.iloc[[4]]).to_dict("records")[0]
    assert (only_replaced["faces_reidentified"], only_replaced["erased_reidentified"]) == (0, 0)
    assert all(math.isnan(only_replaced[key]) for key in (
        "reidentification_rate", "erased_reidentification_rate", "blocks_across_median", "blocks_across_min"))


def test_aggregate():
    table = aggregate(_metric_rows(), _no_faces())
    assert tuple(table.columns) == AGGREGATE_COLUMNS
    blur, mosaic = table.to_dict("records")
    reidentification_nan = ("reidentification_rate", "erased_reidentification_rate", "blocks_across_median",
                            "blocks_across_min")
    assert all(math.isnan(blur.pop(key)) for key in reidentification_nan)
    assert blur == {
        "variant": "blur", "scenario": "s1", "images": 2, "rejected": 1,
        "faces_original": 3, "faces_protected": 1, "faces_redetected": 1, "face_redetection_rate": pytest.approx(1 / 3),
        "faces_checked": 3, "identity_kept": 1, "identity_kept_rate": pytest.approx(1 / 3),
        "identity_min_distance": 0.41, "faces_reidentified": 0, "erased_reidentified": 0,
        "persons_protected": 3, "persons_redetected": 1, "person_redetection_rate": pytest.approx(1 / 3),
        "w1_words": 4, "w1_kept": 1, "w2_words": 1, "w2_kept": 1, "words_kept_rate": pytest.approx(2 / 5),
        "caption_similarity": pytest.approx(0.75), "ssim_outside": pytest.approx(0.95),
        "altered_fraction": pytest.approx(0.1), "protected_fraction": pytest.approx(0.5),
        "psnr_outside": 30.0, "identical_images": 1,
    }
    nan_keys = ("face_redetection_rate", "identity_kept_rate", "identity_min_distance", "person_redetection_rate",
                "words_kept_rate", *reidentification_nan)
    assert all(math.isnan(mosaic.pop(key)) for key in nan_keys)
    assert mosaic == {
        "variant": "mosaic", "scenario": "s1", "images": 1, "rejected": 0,
        "faces_original": 0, "faces_protected": 0, "faces_redetected": 0, "faces_checked": 0, "identity_kept": 0,
        "faces_reidentified": 0, "erased_reidentified": 0,
        "persons_protected": 0, "persons_redetected": 0,
        "w1_words": 0, "w1_kept": 0, "w2_words": 0, "w2_kept": 0,
        "caption_similarity": 0.25, "ssim_outside": 0.5, "altered_fraction": 0.1,
        "protected_fraction": 0.1, "psnr_outside": 20.0, "identical_images": 0,
    }


def test_aggregate_only_rejected_and_empty():
    only_rejected = aggregate(pd.DataFrame([_row("blur", "s2", "x", status="rejected")], columns=list(ROW_COLUMNS)),
                              _no_faces())
    record = only_rejected.to_dict("records")[0]
    assert (record["images"], record["rejected"]) == (0, 1) and math.isnan(record["faces_original"])
    assert math.isnan(record["psnr_outside"]) and math.isnan(record["ssim_outside"])
    empty = aggregate(pd.DataFrame(columns=list(ROW_COLUMNS)), _no_faces())
    assert empty.empty and tuple(empty.columns) == AGGREGATE_COLUMNS


def test_aggregate_unmeasured_counts_and_unchanged_psnr():
    rows = pd.DataFrame([_row("v", "s2", "a", faces_original=1, psnr_outside=math.inf),
                         _row("v", "s2", "b", faces_original=2, psnr_outside=math.inf)], columns=list(ROW_COLUMNS))
    record = aggregate(rows, _no_faces()).to_dict("records")[0]
    assert record["faces_original"] == 3 and record["psnr_outside"] == math.inf
    # persons were not re-detected (evaluate.redetect_persons: false): no count, no rate
    assert math.isnan(record["persons_redetected"]) and math.isnan(record["person_redetection_rate"])


def test_write_table_round_trip(tmp_path):
    table = aggregate(_metric_rows(), _face_rows())
    parquet_path, csv_path = tmp_path / "a" / "metrics.parquet", tmp_path / "b" / "metrics.csv"
    write_table(table, parquet_path, csv_path)
    pd.testing.assert_frame_equal(pd.read_parquet(parquet_path), table)
    pd.testing.assert_frame_equal(pd.read_csv(csv_path), table)
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == ["metrics.csv", "metrics.parquet"]


def test_blurred_face_is_no_longer_detected(shared_photos):
    astronaut = next((path for path in shared_photos if path.name == "astronaut.png"), None)
    if astronaut is None:
        pytest.skip("astronaut.png is not among the shared photos")
    image = load_rgb(astronaut, 10**8)
    detector = CenterFaceDetector(threshold=0.5, max_side=1280)
    faces = detector(image)
    assert any(score > 0.5 for _, score in faces)
    height, width = image.shape[:2]
    regions = [box_to_region(box, width, height) for box, _ in faces]
    mask = boxes_mask(regions, *image.shape[:2])
    blurred = image
    for region in regions:
        blurred, _ = REGION_METHODS["blur"]().apply(blurred, region, 15.0)
    assert faces_in_mask(faces, mask, 0.5)
    assert faces_in_mask(detector(blurred), mask, 0.5) == []


def test_metric_tables_match_their_schema():
    schema = load_schema(SCHEMAS / "metrics.schema.yaml")
    assert tuple(schema["tables"]["images"]["columns"]) == ROW_COLUMNS
    assert tuple(schema["tables"]["variants"]["columns"]) == AGGREGATE_COLUMNS
    assert tuple(schema["tables"]["faces"]["columns"]) == (*FACE_COLUMNS, *REIDENTIFICATION_COLUMNS)
    assert tuple(schema["tables"]["shard_faces"]["columns"]) == FACE_COLUMNS
