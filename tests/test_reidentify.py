"""Rank-1 re-identification against the run's own gallery: constructed descriptors with exact outcomes,
and dlib on a shared photo."""

import math

import numpy as np
import pandas as pd
import pytest

from photoprivacy.evaluate.reidentify import chunk_size, nearest_gallery, rank1_reidentified, with_reidentification
from photoprivacy.evaluate.tables import FACE_COLUMNS, ROW_COLUMNS, aggregate, face_frame

from conftest import MAX_PIXELS

DIMENSIONS = 128


def distinct_descriptors(n, seed=0):
    """n descriptors pairwise far apart (about 1.6, as different persons' dlib descriptors are over 0.6)."""
    return np.random.default_rng(seed).normal(scale=0.1, size=(n, DIMENSIONS))


def face(image_id, original, protected, erased, variant="v", scenario="scenario1", box=(0.0, 0.0, 50.0, 60.0)):
    """A checked face row; descriptors as the evaluate stage writes them (lists)."""
    x0, y0, x1, y1 = box
    return {"variant": variant, "scenario": scenario, "image_id": image_id, "face": 0, "x0": x0, "y0": y0,
            "x1": x1, "y1": y1, "width": x1 - x0, "protection": "obfuscated", "blocks_across": math.nan,
            "checked": True, "identity_distance": float(np.linalg.norm(original - protected)),
            "erased_distance": float(np.linalg.norm(original - erased)),
            "original_descriptor": list(original), "protected_descriptor": list(protected),
            "erased_descriptor": list(erased)}


def unchecked(image_id):
    row = face(image_id, np.zeros(DIMENSIONS), np.zeros(DIMENSIONS), np.zeros(DIMENSIONS))
    row.update(checked=False, identity_distance=math.nan, erased_distance=math.nan, original_descriptor=[],
               protected_descriptor=[], erased_descriptor=[])
    return row


def shifted(vector, distance, axis=0):
    """``vector`` moved by exactly ``distance`` along one axis whose component is 0."""
    moved = vector.copy()
    moved[axis] = distance
    return moved


def image_rows(faces):
    """The image rows aggregate() groups by: one per (variant, scenario) of the faces."""
    pairs = sorted(set(zip(faces["variant"], faces["scenario"], strict=True)))
    rows = [{**dict.fromkeys(ROW_COLUMNS), "variant": v, "scenario": s, "image_id": "x", "status": "ok"}
            for v, s in pairs]
    return pd.DataFrame(rows, columns=list(ROW_COLUMNS))


# --- nearest neighbours in chunks ------------------------------------------


@pytest.mark.parametrize("chunk_rows", [1, 5, 37, 4096, None])
def test_chunked_nearest_equals_the_full_matrix(chunk_rows):
    rng = np.random.default_rng(1)
    probes, gallery = rng.normal(size=(37, DIMENSIONS)), rng.normal(size=(23, DIMENSIONS))
    full = np.linalg.norm(probes[:, None, :] - gallery[None, :, :], axis=2)  # 37 x 23, all at once
    index, distance = nearest_gallery(probes, gallery, chunk_rows)
    np.testing.assert_array_equal(index, full.argmin(axis=1))
    np.testing.assert_allclose(distance, full.min(axis=1), rtol=1e-15, atol=0)


def test_chunk_size_bounds_memory():
    assert chunk_size(10) == 4096
    assert chunk_size(100_000) == 335  # 2**25 distances per product
    assert chunk_size(10**9) == 1 and chunk_size(0) == 4096


def test_an_empty_gallery_is_an_error():
    with pytest.raises(ValueError, match="empty"):
        nearest_gallery(np.zeros((1, DIMENSIONS)), np.zeros((0, DIMENSIONS)))


# --- rank-1 re-identification -------------------------------------------------


def test_unprotected_faces_are_all_reidentified():
    originals = distinct_descriptors(6)
    erased = distinct_descriptors(6, seed=9)  # erasing leaves nothing of these persons
    faces = face_frame([face(f"im{i}", d, d.copy(), e) for i, (d, e) in enumerate(zip(originals, erased,
                                                                                         strict=True))])
    marked = with_reidentification(faces, chunk_rows=4)
    assert marked["reidentified"].tolist() == [True] * 6
    assert marked["erased_reidentified"].tolist() == [False] * 6
    record = aggregate(image_rows(marked), marked).to_dict("records")[0]
    assert (record["faces_reidentified"], record["reidentification_rate"]) == (6, 1.0)
    assert (record["erased_reidentified"], record["erased_reidentification_rate"]) == (0, 0.0)


def test_every_face_erased_gives_the_control_rate():
    originals = distinct_descriptors(8)
    # Three erased faces keep their person within 0.6 (dlib read hair and ears), five do not.
    erased = [shifted(d, 0.3, axis=i) if i < 3 else shifted(d, 2.0, axis=i) for i, d in enumerate(originals)]
    faces = face_frame([face(f"im{i}", d, e, e) for i, (d, e) in enumerate(zip(originals, erased, strict=True))])
    marked = with_reidentification(faces)
    assert marked["reidentified"].tolist() == marked["erased_reidentified"].tolist() == [True] * 3 + [False] * 5
    record = aggregate(image_rows(marked), marked).to_dict("records")[0]
    assert record["reidentification_rate"] == record["erased_reidentification_rate"] == 3 / 8


def test_a_closer_gallery_face_of_another_person_takes_rank_1():
    own, other = distinct_descriptors(2)
    other = own.copy()
    other[:2] += [0.2, 0.2]  # a near-duplicate face in another photo (distance 0.283)
    probe = own.copy()
    probe[:2] += [0.15, 0.15]  # 0.212 from its own original, 0.071 from the other face
    faces = face_frame([face("a", own, probe, own + 1), face("b", other, other.copy(), other + 1)])
    assert with_reidentification(faces)["reidentified"].tolist() == [False, True]


@pytest.mark.parametrize(("distance", "expected"), [(0.59, True), (0.6, False), (0.61, False)])
def test_own_face_at_0_6_or_more_is_not_reidentified(distance, expected):
    own = np.zeros(DIMENSIONS)
    own[1] = 0.3
    faces = face_frame([face("a", own, shifted(own, distance), own)])
    assert faces["identity_distance"][0] == distance  # exactly: one component moved from 0
    assert with_reidentification(faces)["reidentified"].tolist() == [expected]


def test_gallery_holds_each_face_once_across_variants_and_unchecked_faces_are_empty():
    originals = distinct_descriptors(3)
    rows = [face(f"im{i}", d, d.copy(), d + 1, variant=variant, scenario=scenario)
            for variant in ("mosaic", "blur") for scenario in ("scenario1", "scenario2")
            for i, d in enumerate(originals)]
    faces = face_frame([*rows, unchecked("im0")])
    # With duplicates in the gallery, a probe's own face would compete with its copies in other variants.
    assert rank1_reidentified(faces, "protected_descriptor").tolist() == [True] * 12 + [pd.NA]
    marked = with_reidentification(faces)
    assert str(marked["reidentified"].dtype) == "boolean" and marked["erased_reidentified"].isna().tolist() == [
        False] * 12 + [True]
    assert tuple(marked.columns) == (*FACE_COLUMNS, "reidentified", "erased_reidentified")
    # The same box in another image is another face.
    twins = face_frame([face("a", originals[0], originals[1], originals[1]),
                        face("b", originals[1], originals[1], originals[1])])
    assert with_reidentification(twins)["reidentified"].tolist() == [False, True]


def test_no_checked_face_leaves_every_face_empty():
    marked = with_reidentification(face_frame([unchecked("a"), unchecked("b")]))
    assert marked["reidentified"].isna().all() and marked["erased_reidentified"].isna().all()
    assert with_reidentification(face_frame([])).empty


# --- dlib on a shared photo ---------------------------------------------------


def test_dlib_reidentifies_unprotected_faces_and_gives_every_control(shared_photos):
    pytest.importorskip("dlib")
    from photoprivacy.evaluate import metrics
    from photoprivacy.evaluate.identity import FaceRecogniser, identity_check
    from photoprivacy.evaluate.stage import face_rows
    from photoprivacy.faces.detectors import CenterFaceDetector
    from photoprivacy.images import load_rgb

    recogniser, detector = FaceRecogniser(), CenterFaceDetector(threshold=0.5, max_side=2560)
    records = []
    for path in shared_photos:
        rgb = load_rgb(path, MAX_PIXELS)
        everywhere = np.ones(rgb.shape[:2], bool)
        boxes = metrics.faces_in_mask(detector(rgb), everywhere, 0.5)
        identity = identity_check(recogniser, rgb, rgb.copy(), boxes)
        records += face_rows({"id": path.stem}, {"variant": "none", "scenario": "scenario1"}, boxes, everywhere,
                             None, identity)
    marked = with_reidentification(face_frame(records))
    checked = marked[marked["checked"]]
    print(f"\n{len(marked)} faces, {len(checked)} checked; erase control re-identifies "
          f"{int(checked['erased_reidentified'].sum())}; erased distances "
          f"{sorted(round(d, 3) for d in checked['erased_distance'])}")
    assert len(checked) >= 3  # astronaut and coco01's two faces
    assert checked["reidentified"].all() and (checked["identity_distance"] < 1e-6).all()
    for column in ("original_descriptor", "protected_descriptor", "erased_descriptor"):
        assert all(len(d) == 128 and np.isfinite(d).all() for d in checked[column])
    assert (checked["erased_distance"] > 0).all()  # the flat patch changed every descriptor
    unmeasured = marked[~marked["checked"]]
    assert unmeasured["reidentified"].isna().all() and all(len(d) == 0 for d in unmeasured["erased_descriptor"])
