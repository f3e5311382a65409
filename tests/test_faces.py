"""Face detection inside person boxes, face generators, and fitting a face into a box."""

import numpy as np
import pytest

from photoprivacy.errors import ConfigError
from photoprivacy.faces.blend import feather_band, fit_face, match_colour
from photoprivacy.faces.detectors import CenterFaceDetector, HaarFaceDetector, faces_of_persons
from photoprivacy.faces.generators import DiffusionFaceGenerator, DonorFaceGenerator, NoFaceGenerator, face_seed
from photoprivacy.images import load_rgb

from conftest import MAX_PIXELS, gradient_image, save_image


@pytest.fixture(scope="module")
def tiny_face_model(offline_model_dir):
    return offline_model_dir("face_generator")


def person(index, box, role="major"):
    return {"person": index, "box_xyxy": box, "role": role, "attention_score": 1, "distance": 0.0,
            "attention_rank": 1, "distance_rank": 1, "final_score": 1.0}


# coco01.jpg (511 x 640): a man pouring wine, a woman behind him; boxes written by hand.
COCO01_MAN = [0, 30, 410, 640]
COCO01_WOMAN = [300, 25, 490, 620]


def test_centerface_finds_the_faces_inside_major_and_minor_boxes(shared_photos):
    image = load_rgb(next(p for p in shared_photos if p.name == "coco01.jpg"), MAX_PIXELS)
    persons = [person(0, COCO01_MAN), person(1, COCO01_WOMAN, role="minor")]
    faces, other_faces, notes = faces_of_persons(image, persons, CenterFaceDetector(0.5, 1280))
    assert notes == [] and all(f["person"] == 0 and f["score"] > 0.5 for f in faces)
    # The woman (a minor) has her face found too (and part of his, inside her box): they size her
    # obfuscation and are not replaced.
    assert other_faces and all(f["person"] == 1 and "face" not in f for f in other_faces)
    assert any(361 <= (b[0] + b[2]) / 2 <= 433 and b[3] < 200 for b in (f["box_xyxy"] for f in other_faces))
    # The man's face is around x 245-342, y 90-218 (CenterFace on the whole photo). The
    # woman's face reaches into his box too (x 361-433), so part of it may be found as well.
    centres = [((x0 + x1) / 2, (y0 + y1) / 2) for x0, y0, x1, y1 in (f["box_xyxy"] for f in faces)]
    assert any(245 < cx < 342 and 90 < cy < 218 for cx, cy in centres)
    assert all(x1 <= 410 for _, _, x1, _ in (f["box_xyxy"] for f in faces))  # never outside his box


def test_haar_boxes_are_grown_by_15_px(shared_photos):
    image = load_rgb(next(p for p in shared_photos if p.name == "astronaut.png"), MAX_PIXELS)
    detector = HaarFaceDetector(None, 15)
    found = detector(image)
    assert found, "the astronaut's face is a frontal face"
    import cv2

    cascade = cv2.CascadeClassifier(cv2.data.haarcascades + "haarcascade_frontalface_default.xml")
    raw = cascade.detectMultiScale(cv2.cvtColor(image, cv2.COLOR_RGB2GRAY), scaleFactor=1.1, minNeighbors=5,
                                   minSize=(10, 10))
    x, y, w, h = raw[0]
    assert found[0] == ([x - 15.0, y - 15.0, x + w + 15.0, y + h + 15.0], None)


class FixedDetector:
    """Finds one face at a fixed place of any crop (for geometry tests)."""

    name = "fixed"

    def __init__(self, box):
        self.box = box

    def __call__(self, crop):
        return [(self.box, 0.9)]


def test_face_boxes_map_to_image_pixels_and_are_clipped():
    image = gradient_image(50, 60)
    persons = [person(0, [-10, 20, 30, 70])]  # partly outside the image
    faces, _, notes = faces_of_persons(image, persons, FixedDetector([-5, 5, 100, 20]))
    # The crop starts at (0, 20); the face box is clipped to the image: x 0..60, y 25..40.
    assert faces == [{"face": 0, "person": 0, "box_xyxy": [0, 25, 60, 40], "score": 0.9, "source": "person_box"}]
    assert notes == []


class WholePhotoDetector:
    """Finds a face in a crop at its top-left corner, and two more only on the whole 100 x 120 photo."""

    def __call__(self, rgb):
        if rgb.shape[:2] != (100, 120):
            return [([0, 0, 10, 10], 0.9)]
        return [([2, 2, 12, 12], 0.8),  # the crop face of person 0 again (most of it): not repeated
                ([50, 30, 70, 50], 0.7),  # centred in both persons' boxes: listed for each
                ([2, 85, 12, 98], 0.6)]  # in no person's box: not listed


def test_the_whole_photo_pass_adds_faces_the_box_searches_missed():
    persons = [person(0, [0, 0, 80, 90]), person(1, [40, 20, 120, 100], role="minor")]
    faces, others, notes = faces_of_persons(gradient_image(100, 120), persons, WholePhotoDetector())
    assert faces == [{"face": 0, "person": 0, "box_xyxy": [0, 0, 10, 10], "score": 0.9, "source": "person_box"}]
    assert others == [
        {"person": 1, "box_xyxy": [40, 20, 50, 30], "score": 0.9, "source": "person_box"},
        {"person": 0, "box_xyxy": [50, 30, 70, 50], "score": 0.7, "source": "photo"},
        {"person": 1, "box_xyxy": [50, 30, 70, 50], "score": 0.7, "source": "photo"},
    ]
    assert notes == []


def test_zero_area_person_box_is_noted_not_searched():
    faces, _, notes = faces_of_persons(gradient_image(50, 60), [person(3, [10, 10, 10, 40])],
                                       FixedDetector([0, 0, 5, 5]))
    assert faces == [] and notes == [{"person": 3, "note": "person box has no area inside the image"}]


def _sequence(shared_photos):
    """The shared photos, 2x copies and crops of them: many input shapes, in one sequence."""
    import cv2

    images = [load_rgb(path, MAX_PIXELS) for path in shared_photos]
    images += [cv2.resize(image, None, fx=2, fy=2, interpolation=cv2.INTER_CUBIC) for image in images[:2]]
    images += [image[: image.shape[0] // 2, image.shape[1] // 3 :] for image in images[:4]]
    return images


def test_one_centerface_instance_over_a_sequence_finds_what_fresh_ones_find(shared_photos):
    # OpenCV's DNN backend, reused over differently sized inputs, found hundreds of phantom faces.
    reused = CenterFaceDetector(0.5, None)
    images = _sequence(shared_photos)
    found = [reused(image) for image in images]
    fresh = [CenterFaceDetector(0.5, None)(image) for image in images]
    assert found == fresh
    by_name = dict(zip([p.name for p in shared_photos], found, strict=False))
    # Faces above 0.5 on the originals (SOURCES.md of the shared photos): 1, 17, 2, 0.
    assert [len(by_name[name]) for name in ("astronaut.png", "city.jpg", "coco01.jpg", "coco02.jpg")] == [1, 17, 2, 0]
    assert all(len(faces) < 40 for faces in found)


def test_haar_instance_over_a_sequence_is_stateless(shared_photos):
    images = _sequence(shared_photos)
    reused = HaarFaceDetector(None, 15)
    assert [reused(image) for image in images] == [HaarFaceDetector(None, 15)(image) for image in images]


def test_detection_runs_on_a_downscaled_copy_and_maps_boxes_back(shared_photos):
    import cv2

    from photoprivacy.faces.detectors import downscaled

    astronaut = load_rgb(next(p for p in shared_photos if p.name == "astronaut.png"), MAX_PIXELS)
    big = cv2.resize(astronaut, None, fx=4, fy=4, interpolation=cv2.INTER_CUBIC)  # 2036 x 2052
    small, scale = downscaled(big, 640)
    assert max(small.shape[:2]) == 640 and scale == 640 / 2052
    [(box, score)] = CenterFaceDetector(0.5, 640)(big)
    [(reference, reference_score)] = CenterFaceDetector(0.5, None)(small)
    assert box == pytest.approx([v / scale for v in reference])  # the small copy's face, in big-image pixels
    assert score == reference_score
    # The face of the original at 1x is at about x 179-270, y 60-177: four times that here.
    assert box == pytest.approx([4 * 179, 4 * 60, 4 * 270, 4 * 177], abs=4 * 12)
    assert downscaled(astronaut, 640)[1] == 1.0 and downscaled(astronaut, None)[1] == 1.0


def test_a_major_without_a_face_is_noted():
    class NoFaces:
        def __call__(self, crop):
            return []

    faces, _, notes = faces_of_persons(gradient_image(50, 60), [person(2, [5, 5, 40, 45])], NoFaces())
    assert faces == [] and notes == [{"person": 2, "note": "no face found in the major person's box"}]


def test_face_seed_is_fixed_per_face():
    assert face_seed(0, "img", 0) == face_seed(0, "img", 0)
    assert len({face_seed(0, "img", 0), face_seed(0, "img", 1), face_seed(1, "img", 0), face_seed(0, "x", 0)}) == 4
    assert 0 <= face_seed(0, "img", 0) < 2**63


def test_diffusion_generator_is_deterministic_per_face(tiny_face_model):
    generator = DiffusionFaceGenerator(tiny_face_model, 5, "cpu", None)
    three = generator.generate("photo", 3, seed=0)
    assert three.shape == (3, 32, 32, 3) and three.dtype == np.uint8
    np.testing.assert_array_equal(generator.generate("photo", 2, seed=0), three[:2])  # batch size changes nothing
    assert not np.array_equal(generator.generate("photo", 1, seed=1)[0], three[0])
    assert generator.generate("photo", 0, seed=0).shape == (0, 32, 32, 3)
    assert generator.model_info["id"] == "random-face_generator-tiny"


def test_donor_generator_picks_donors_by_seed(tmp_path):
    for index in range(3):
        save_image(tmp_path / "donors" / f"face{index}.png", np.full((40, 30, 3), 50 * index, np.uint8))
    generator = DonorFaceGenerator(tmp_path / "donors", MAX_PIXELS, size=16)
    faces = generator.generate("photo", 4, seed=0)
    assert faces.shape == (4, 16, 16, 3)
    np.testing.assert_array_equal(faces, generator.generate("photo", 4, seed=0))
    assert {int(f[0, 0, 0]) for f in faces} <= {0, 50, 100}
    with pytest.raises(ConfigError, match="config key fakes.donor_folder: no donor face images"):
        DonorFaceGenerator(tmp_path / "nothing", MAX_PIXELS)


def test_no_generator_gives_no_faces():
    assert NoFaceGenerator().generate("x", 3, 0).shape[0] == 0


def test_colour_match_moves_the_face_to_the_reference_statistics():
    import cv2

    rng = np.random.default_rng(0)
    face = rng.integers(0, 120, (20, 20, 3), dtype=np.uint8)
    reference = rng.integers(120, 255, (20, 20, 3), dtype=np.uint8)
    matched = match_colour(face, reference)

    def lab(a):
        return cv2.cvtColor(a, cv2.COLOR_RGB2LAB).reshape(-1, 3).astype(float)

    np.testing.assert_allclose(lab(matched).mean(0), lab(reference).mean(0), atol=2.5)


def test_feather_band_is_one_on_the_whole_box_and_fades_outward():
    band = feather_band(30, 40, margin=6)  # a 30 x 40 box inside a 42 x 52 grown region
    assert band.shape == (52, 42)
    assert (band[6:46, 6:36] == 1.0).all()  # every pixel of the box
    assert band[0, 0] == 0.0 and band[26, 0] < 0.05  # the grown edge
    assert 0.0 < band[26, 3] < band[26, 5] < 1.0  # falls off with the distance from the box
    assert (feather_band(5, 7, margin=0) == 1.0).all()


@pytest.mark.parametrize("blend", ["feather", "poisson", "hard"])
def test_fit_face_replaces_every_pixel_of_the_face_box(blend):
    rng = np.random.default_rng(1)
    image = rng.integers(0, 256, (60, 80, 3), dtype=np.uint8)
    face = np.full((32, 32, 3), 200, np.uint8)
    out, changed, notes = fit_face(image, (20, 10, 50, 50), face, colour_match=False, blend=blend, feather=0.15)
    # feather: the band is round(0.15 * 30) = 4 px outside the box; poisson and hard change the box only.
    assert changed == ((16, 6, 54, 54) if blend == "feather" else (20, 10, 50, 50))
    x0, y0, x1, y1 = changed
    mask = np.zeros((60, 80), bool)
    mask[y0:y1, x0:x1] = True
    np.testing.assert_array_equal(out[~mask], image[~mask])
    if blend != "poisson":
        assert (out[10:50, 20:50] == 200).all()  # nothing of the real face survives in the box
    else:  # gradient-domain: the box takes the face's (flat) gradients and the border's colours
        original = image[10:50, 20:50].astype(float)
        inside = out[12:48, 22:48].astype(float)
        assert np.abs(np.diff(inside, axis=1)).mean() < np.abs(np.diff(original, axis=1)).mean() / 5
    assert notes == {}


def test_feathered_face_at_the_border_is_clipped():
    image = gradient_image(40, 40)
    out, changed, notes = fit_face(image, (0, 0, 20, 20), np.full((8, 8, 3), 9, np.uint8), colour_match=False,
                                   blend="feather", feather=0.2)
    assert changed == (0, 0, 24, 24) and notes == {}
    assert (out[:20, :20] == 9).all()
    np.testing.assert_array_equal(out[24:], image[24:])


def test_poisson_at_the_border_falls_back_to_feather():
    image = gradient_image(40, 40)
    out, changed, notes = fit_face(image, (0, 0, 20, 20), np.full((8, 8, 3), 9, np.uint8), colour_match=True,
                                   blend="poisson", feather=0.15)
    assert "feathered" in notes["fallback"] and changed == (0, 0, 23, 23)
    np.testing.assert_array_equal(out[23:], image[23:])


def test_face_larger_than_its_person_box_is_fitted_to_the_face_box():
    image = gradient_image(30, 30)
    out, _, _ = fit_face(image, (0, 0, 30, 30), np.full((256, 256, 3), 10, np.uint8), colour_match=False,
                         blend="hard", feather=0.15)
    assert (out == 10).all()


def test_fakes_shard_loads_the_generator_only_when_a_face_needs_it(tmp_path, tiny_face_model):
    from photoprivacy.artifacts import write_json
    from photoprivacy.faces.stage import run_fakes_shard

    def item(name, n_faces):
        faces = [{"face": i, "person": 0, "box_xyxy": [0, 0, 4, 4], "score": 0.9} for i in range(n_faces)]
        write_json(tmp_path / f"{name}.json", {"faces": faces})
        return {"id": name, "faces_json": str(tmp_path / f"{name}.json"), "npz": str(tmp_path / f"{name}.npz")}

    loads = []

    def make_generator():
        loads.append(1)
        return DiffusionFaceGenerator(tiny_face_model, 3, "cpu", None)

    run_fakes_shard([item("empty", 0)], make_generator, 0)
    assert loads == []
    counts = run_fakes_shard([item("a", 2), item("b", 0), item("c", 1)], make_generator, 0)
    assert loads == [1] and counts == {"images": 3, "faces": 3}
    with np.load(tmp_path / "a.npz") as arrays:
        assert arrays["faces"].shape == (2, 32, 32, 3) and list(arrays["face"]) == [0, 1]
    with np.load(tmp_path / "b.npz") as arrays:
        assert arrays["faces"].shape == (0, 1, 1, 3)
