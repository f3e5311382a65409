"""The ``annotations`` detector: boxes from a COCO-format JSON instead of a model.

For ablations on ground-truth boxes. Images are matched to the JSON's
``images[].file_name`` by relative path, else by base name. There is no
attention for such boxes; the artifacts say so.
"""

from pathlib import Path

import numpy as np

from ..artifacts import read_json
from ..errors import ConfigError
from .boxes import xywh_to_xyxy
from .coco import COCO_LABELS
from .detr import ImageDetections


class AnnotationDetector:
    name = "annotations"
    has_attention = False

    def __init__(self, annotation_file):
        path = Path(annotation_file)
        if not path.is_file():
            raise ConfigError(f"config key detect.annotations: file '{path}' does not exist")
        coco = read_json(path)
        self.model_info = {"source": "annotations", "id": str(path), "revision": None}
        self._names = {c["id"]: c["name"] for c in coco.get("categories", [])}
        by_image = {}
        for annotation in coco.get("annotations", []):
            by_image.setdefault(annotation["image_id"], []).append(annotation)
        self._by_name = {}
        for image in coco.get("images", []):
            self._by_name[Path(image["file_name"]).as_posix()] = by_image.get(image["id"], [])

    def label(self, category_id):
        """The JSON's own category name, else the COCO name DETR would give."""
        if category_id in self._names:
            return self._names[category_id]
        return COCO_LABELS[category_id] if category_id < len(COCO_LABELS) else f"class_{category_id}"

    def annotations_for(self, relpath):
        relpath = Path(relpath)
        found = self._by_name.get(relpath.as_posix())
        if found is None:
            found = self._by_name.get(relpath.name, [])
        return found

    def detect(self, images, relpaths):
        results = []
        for relpath in relpaths:  # the boxes come from the JSON; the pixels were only decoded to check them
            annotations = self.annotations_for(relpath)
            boxes = xywh_to_xyxy([a["bbox"] for a in annotations])
            detections = [
                {
                    "query": None,
                    "label": self.label(a["category_id"]),
                    "label_id": int(a["category_id"]),
                    "score": 1.0,
                    "box_xyxy": [round(float(v), 2) for v in box],
                }
                for a, box in zip(annotations, boxes, strict=True)
            ]
            results.append(ImageDetections(detections, np.zeros((len(detections), 0, 0), np.float32), (0, 0)))
        return results
