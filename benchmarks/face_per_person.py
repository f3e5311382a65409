"""The person-box face estimate (render.strength.face_per_person), measured.

    .venv/bin/python benchmarks/face_per_person.py

For every hand-written person box of the shared photos (tests/data/shared_persons.json)
at 1x, 2x and 3x, CenterFace runs inside the box as the faces stage does, and the
person's own face (the widest centred in its head region, render/zones.py) gives
face width / the box's shorter side. Prints the ratio's median and spread, over all
persons and over standing ones (box at least twice as tall as wide).
"""

import json

import cv2
import numpy as np
from common import REPO, SHARED_PHOTOS

from photoprivacy.faces.detectors import CenterFaceDetector
from photoprivacy.images import load_rgb
from photoprivacy.render.zones import own_face

SCALES = (1, 2, 3)


def ratios():
    """(ratio, standing) per person with a face found, over the photos and scales."""
    coco = json.loads((REPO / "tests" / "data" / "shared_persons.json").read_text())
    detector = CenterFaceDetector(0.5, 1280)  # the faces stage's defaults
    found = []
    for image in coco["images"]:
        rgb = load_rgb(SHARED_PHOTOS / image["file_name"], 10**9)
        for scale in SCALES:
            scaled = rgb if scale == 1 else cv2.resize(rgb, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
            height, width = scaled.shape[:2]
            for annotation in (a for a in coco["annotations"] if a["image_id"] == image["id"]):
                x, y, w, h = (v * scale for v in annotation["bbox"])
                box = [x, y, x + w, y + h]
                x0, y0 = int(x), int(y)
                faces = [[f[0] + x0, f[1] + y0, f[2] + x0, f[3] + y0]
                         for f, _ in detector(scaled[y0 : int(y + h), x0 : int(x + w)])]
                face = own_face(box, faces, width, height)
                if face is not None:
                    found.append(((face[2] - face[0]) / min(w, h), h >= 2 * w))
    return found


def main():
    found = ratios()
    for name, values in (("all persons", [r for r, _ in found]), ("standing", [r for r, s in found if s])):
        p10, p25, p50, p75, p90 = np.percentile(values, [10, 25, 50, 75, 90])
        print(f"{name}: {len(values)} faces; face width / shorter side: median {p50:.3f}, "
              f"quartiles {p25:.3f}-{p75:.3f}, 10-90 % {p10:.3f}-{p90:.3f}")


if __name__ == "__main__":
    main()
