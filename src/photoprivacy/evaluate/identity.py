"""Identity leak: does a protected face still look like the same person to a
face recogniser?

dlib's face recognition ResNet (``dlib_face_recognition_resnet_model_v1``,
shipped in the ``face-recognition-models`` package) maps a face to a 128-d
descriptor; two faces whose descriptors lie closer than 0.6 (Euclidean) are
the same person by dlib's published threshold. For each face box, the 5-point
landmarks are predicted inside the box on the original and, separately, on the
protected photo; dlib aligns a face chip from them and computes the
descriptor. A protected face whose descriptor stays within 0.6 of the
original's keeps its identity.

Only faces dlib can measure are checked: at least 48 px wide, and found by
dlib's own HOG frontal face detector in the original (around the box). On
dark, blurred or turned faces that detector misses, the descriptor says
little: such a face lies within 0.6 of a flat patch of its own mean colour
(measured on city.jpg at 2x and 3x: 0.50 and 0.54), so any obfuscation would
"keep" it. The same holds, less often, for checked faces (3 of 52 faces at
least 48 px wide in five group photos and their 2x and 3x copies): dlib also
reads hair, ears and background around the box. So each checked face also gets the descriptor of the original photo with
that face erased to a flat patch of its mean colour, the control of the
rank-1 re-identification rate (``reidentify``).

The models are located without importing ``face_recognition_models`` (its
``__init__`` imports ``pkg_resources``, gone from current setuptools).
"""

import importlib.metadata
import importlib.util
import math
from pathlib import Path

import numpy as np

from ..errors import ModelNotAvailable
from ..geometry import box_to_region

MIN_FACE_WIDTH = 48  # px: dlib's descriptor is unreliable on smaller faces
SAME_PERSON_DISTANCE = 0.6  # dlib's published threshold for "same person"

_PACKAGE = "face_recognition_models"
_DISTRIBUTION = "face-recognition-models"
_RESNET = "dlib_face_recognition_resnet_model_v1.dat"
_PREDICTOR = "shape_predictor_5_face_landmarks.dat"


def model_paths():
    """(shape predictor, ResNet) paths inside the installed face-recognition-models
    package; ModelNotAvailable naming the package when it or a file is missing."""
    spec = importlib.util.find_spec(_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModelNotAvailable(
            f"the dlib face models are not installed: pip install {_DISTRIBUTION} "
            f"(package {_PACKAGE!r} not found)"
        )
    models = Path(spec.submodule_search_locations[0]) / "models"
    paths = (models / _PREDICTOR, models / _RESNET)
    for path in paths:
        if not path.is_file():
            raise ModelNotAvailable(
                f"{path} is missing: reinstall {_DISTRIBUTION} (pip install --force-reinstall {_DISTRIBUTION})"
            )
    return paths


def _as_rgb(image):
    """A C-contiguous HxWx3 uint8 array, as dlib's bindings require."""
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"expected an HxWx3 uint8 RGB image, got shape {image.shape} dtype {image.dtype}")
    return np.ascontiguousarray(image)


def box_to_rectangle(box_xyxy, width, height):
    """(left, top, right, bottom) of a dlib.rectangle covering the float xyxy box,
    rounded outward and clipped to the image; dlib's right/bottom are inclusive."""
    x1, y1, x2, y2 = (float(v) for v in box_xyxy)
    left = max(0, math.floor(x1))
    top = max(0, math.floor(y1))
    right = min(width, math.ceil(x2)) - 1
    bottom = min(height, math.ceil(y2)) - 1
    if right < left or bottom < top:
        raise ValueError(f"box {list(box_xyxy)} is empty inside a {width}x{height} image")
    return left, top, right, bottom


def box_width(box_xyxy):
    return float(box_xyxy[2]) - float(box_xyxy[0])


class FaceRecogniser:
    """dlib's 5-point shape predictor and face recognition ResNet, loaded once.

    Not to be shared between threads: dlib's HOG face detector releases the GIL, and two threads
    running one instance corrupt the heap (abort or segfault within seconds on the faces of
    city.jpg at 2x); the ResNet keeps each call's layer outputs in the network object. A pool
    gives each thread its own (``thread_copy``). The descriptors are computed holding the GIL,
    so two threads never compute them at once.
    """

    def __init__(self):
        import dlib

        predictor_path, resnet_path = model_paths()
        self._dlib = dlib
        self._predictor = dlib.shape_predictor(str(predictor_path))
        self._model = dlib.face_recognition_model_v1(str(resnet_path))
        self._detector = dlib.get_frontal_face_detector()
        self.model_info = {
            "source": "package",
            "id": f"{_PACKAGE}/{_RESNET}",
            "revision": importlib.metadata.version(_DISTRIBUTION),
            "dlib": dlib.__version__,
        }

    def thread_copy(self):
        """A recogniser of its own for one worker thread (the models loaded again, about 0.5 s)."""
        return FaceRecogniser()

    def _shape(self, rgb, box_xyxy):
        height, width = rgb.shape[:2]
        rect = self._dlib.rectangle(*box_to_rectangle(box_xyxy, width, height))
        return self._predictor(rgb, rect)

    def is_measurable(self, rgb, box_xyxy):
        """Whether dlib's HOG frontal detector finds a face in the box grown by half its size
        on each side (upsampled once, so faces from about 40 px are found)."""
        rgb = _as_rgb(rgb)
        height, width = rgb.shape[:2]
        x0, y0, x1, y1 = box_xyxy
        grow_x, grow_y = (x1 - x0) / 2, (y1 - y0) / 2
        left, top, right, bottom = box_to_rectangle([x0 - grow_x, y0 - grow_y, x1 + grow_x, y1 + grow_y], width, height)
        return len(self._detector(np.ascontiguousarray(rgb[top : bottom + 1, left : right + 1]), 1)) > 0

    def descriptor(self, rgb, box_xyxy):
        """128-d float64 descriptor of the face in ``box_xyxy`` (float pixels) of ``rgb``:
        landmarks predicted inside the box on this photo, then the aligned chip's descriptor."""
        rgb = _as_rgb(rgb)
        shape = self._shape(rgb, box_xyxy)
        return np.asarray(self._model.compute_face_descriptor(rgb, shape), dtype=np.float64)

    def descriptors(self, rgb, boxes):
        """(N, 128) float64 descriptors of the faces in ``boxes`` of one photo, in one call."""
        rgb = _as_rgb(rgb)
        if len(boxes) == 0:
            return np.zeros((0, 128), dtype=np.float64)
        shapes = self._dlib.full_object_detections()
        for box in boxes:
            shapes.append(self._shape(rgb, box))
        vectors = self._model.compute_face_descriptor(rgb, shapes)
        return np.array([np.asarray(v, dtype=np.float64) for v in vectors])


def row_distances(a, b):
    """Euclidean distance between each row of ``a`` and the same row of ``b``, as floats."""
    return [float(d) for d in np.linalg.norm(a - b, axis=1)]


def mean_colour(pixels):
    """Per-channel mean of an (..., 3) uint8 array, rounded to uint8."""
    return np.round(pixels.reshape(-1, 3).mean(axis=0)).astype(np.uint8)


def erased_descriptors(recogniser, rgb, boxes):
    """(N, 128) descriptors at each box of ``rgb`` with that box alone (its pixel region,
    geometry.box_to_region) erased to a flat patch of its mean colour, landmarks predicted
    on the erased photo: what dlib still reads of the person around the face."""
    erased = _as_rgb(rgb).copy()
    height, width = erased.shape[:2]
    vectors = []
    for box in boxes:
        x0, y0, x1, y1 = box_to_region(box, width, height)
        face = erased[y0:y1, x0:x1].copy()
        erased[y0:y1, x0:x1] = mean_colour(face)
        vectors.append(recogniser.descriptors(erased, [box])[0])
        erased[y0:y1, x0:x1] = face  # one working copy for all faces, not one per face
    return np.array(vectors).reshape(len(boxes), 128)


def identity_check(recogniser, original, protected, boxes, min_width=MIN_FACE_WIDTH,
                   threshold=SAME_PERSON_DISTANCE):
    """Identity leak over the faces at least ``min_width`` px wide that dlib finds in the original:
    ``faces_checked``, ``identity_kept`` (distance < ``threshold``), ``min_distance``
    (NaN when none is checked) and the per-face ``distances``; ``checked``, per box, whether it was
    checked; per checked face, the ``erased_distances`` (original vs the flat-erase control) and
    the ``descriptors`` ("original", "protected", "erased": (faces_checked, 128) arrays)."""
    checked = [box_width(box) >= min_width and recogniser.is_measurable(original, box) for box in boxes]
    measured = [box for box, ok in zip(boxes, checked, strict=True) if ok]
    descriptors = {
        "original": recogniser.descriptors(original, measured),
        "protected": recogniser.descriptors(protected, measured),
        "erased": erased_descriptors(recogniser, original, measured),
    }
    distances = row_distances(descriptors["original"], descriptors["protected"])
    return {
        "faces_checked": len(measured),
        "identity_kept": sum(d < threshold for d in distances),
        "min_distance": min(distances) if distances else math.nan,
        "distances": distances,
        "checked": checked,
        "erased_distances": row_distances(descriptors["original"], descriptors["erased"]),
        "descriptors": descriptors,
    }
