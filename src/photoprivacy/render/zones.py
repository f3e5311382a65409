"""Strength zones: which face each obfuscated pixel hides, so its block or blur is sized to that face.

The protected pixels of a photo are split into zones, painted in this order (a
later zone wins where zones overlap):

1. each person's box, at the width of that person's own face (the widest face
   found in its head region) or, when none was found, the estimate from its box;
2. the head region of each person without a found face, at the estimate;
3. each found face, at its own width.

Within a step the narrowest face goes first, so where zones of one step overlap
the wider face's (coarser) strength holds: an overlap never weakens a face's
protection. A face found twice from overlapping person boxes, or cut by the edge
of one, counts once, at its widest. Pixels in no zone (scenario 1's objects,
words and scene away from every person) form the ``other`` zone and take the
configured fixed sizes. No zone grows with a mask component: two persons whose
masks merge keep their own block sizes.
"""

from dataclasses import dataclass

import numpy as np

from ..geometry import box_centre, box_to_region, same_face
from .masking import bounding_region
from .strength import estimated_face_width, face_box_width

FACE_SOURCE, ESTIMATE_SOURCE = "face", "person_box"


@dataclass(frozen=True)
class Zone:
    kind: str  # person | head | face | other
    person: int | None
    region: tuple | None  # (x0, y0, x1, y1) pixels, end-exclusive; None for other
    face_width: float | None
    width_source: str | None  # face | person_box; None for other


OTHER = Zone("other", None, None, None, None)


def head_region(box_xyxy, width, height):
    """The top of a person box, as tall as the box is wide (at most the whole box), clipped."""
    x0, y0, x1, y1 = box_xyxy
    return box_to_region([x0, y0, x1, min(y1, y0 + abs(x1 - x0))], width, height)


def own_face(person_box, faces, width, height):
    """The widest of ``faces`` (boxes) centred in the person's head region, or None."""
    head = head_region(person_box, width, height)
    if head is None:
        return None
    inside = [face for face in faces if _contains(head, box_centre(face))]
    return max(inside, key=face_box_width, default=None)


def _contains(region, point):
    x0, y0, x1, y1 = region
    return x0 <= point[0] < x1 and y0 <= point[1] < y1


def distinct_faces(faces):
    """(person, box) pairs without repeats (``geometry.same_face``: found again from an overlapping
    person box, or cut by a box's edge); the widest of them is kept."""
    kept = []
    for person, box in sorted(faces, key=lambda face: -face_box_width(face[1])):
        if not any(same_face(box, other) for _, other in kept):
            kept.append((person, box))
    return kept


def plan_zones(persons, faces, width, height, face_per_person):
    """Zones in painting order, ``OTHER`` first. ``persons``: (person, box_xyxy) pairs;
    ``faces``: (person, box_xyxy) of the faces found inside each person's box."""
    bodies, heads = [], []
    for person, box in persons:
        region = box_to_region(box, width, height)
        if region is None:
            continue
        face = own_face(box, [b for p, b in faces if p == person], width, height)
        if face is None:
            estimate = estimated_face_width(box, face_per_person)
            bodies.append(Zone("person", person, region, estimate, ESTIMATE_SOURCE))
            heads.append(Zone("head", person, head_region(box, width, height), estimate, ESTIMATE_SOURCE))
        else:
            bodies.append(Zone("person", person, region, face_box_width(face), FACE_SOURCE))
    found = []
    for person, box in distinct_faces(faces):
        region = box_to_region(box, width, height)
        if region is not None:
            found.append(Zone("face", person, region, face_box_width(box), FACE_SOURCE))

    def narrowest_first(zones):
        return sorted(zones, key=lambda zone: zone.face_width)

    return [OTHER, *narrowest_first(bodies), *narrowest_first(heads), *narrowest_first(found)]


def zone_labels(zones, height, width):
    """(H, W) int32: each pixel's zone, the index into ``zones`` of the last one covering it (0: other)."""
    labels = np.zeros((height, width), np.int32)
    for index, zone in enumerate(zones):
        if zone.region is not None:
            x0, y0, x1, y1 = zone.region
            labels[y0:y1, x0:x1] = index
    return labels


def owned_pixels(zones, area):
    """(zone, tight region, its pixels) for each zone owning any pixel of ``area`` (bool mask): the
    pixels it is the last zone over, as a bool mask of its tight region (x0, y0, x1, y1)."""
    labels = zone_labels(zones, *area.shape)
    for index, zone in enumerate(zones):
        window = zone.region or bounding_region(area)
        if window is None:
            continue
        wx0, wy0, wx1, wy1 = window
        owned = (labels[wy0:wy1, wx0:wx1] == index) & area[wy0:wy1, wx0:wx1]
        tight = bounding_region(owned)
        if tight is not None:
            tx0, ty0, tx1, ty1 = tight
            yield zone, (tx0 + wx0, ty0 + wy0, tx1 + wx0, ty1 + wy0), owned[ty0:ty1, tx0:tx1]


def hide_zones(image, area, zones, strength_of, hide, reach):
    """Hide the pixels of ``area`` (bool mask), each zone's at ``strength_of(zone)``.

    ``hide(crop, region, strength) -> (crop, parameters)`` obfuscates a region of a crop;
    ``reach(strength)`` is how far outside its region it reads. Each zone is worked on in a
    window around its pixels only, so cost follows their size. Returns (image with the area's
    pixels replaced, [(zone, its pixels' bounding region, parameters)] of the zones that hid any).
    """
    height, width = image.shape[:2]
    processed, used = image.copy(), []
    for zone, (x0, y0, x1, y1), owned in owned_pixels(zones, area):
        strength = strength_of(zone)
        pad = reach(strength)
        cx0, cy0, cx1, cy1 = max(0, x0 - pad), max(0, y0 - pad), min(width, x1 + pad), min(height, y1 + pad)
        part, parameters = hide(image[cy0:cy1, cx0:cx1], (x0 - cx0, y0 - cy0, x1 - cx0, y1 - cy0), strength)
        inside = np.zeros(part.shape[:2], bool)
        inside[y0 - cy0 : y1 - cy0, x0 - cx0 : x1 - cx0] = owned
        processed[cy0:cy1, cx0:cx1][inside] = part[inside]
        used.append((zone, (x0, y0, x1, y1), parameters))
    return processed, used


def zones_of_records(persons, faces, width, height, face_per_person, scale=(1.0, 1.0)):
    """``plan_zones`` for a persons record and its faces record (every face found in a person's
    box or on the photo: ``faces`` and ``other_faces``), boxes scaled by (sx, sy) to the working size."""
    sx, sy = scale

    def scaled(box):
        return [box[0] * sx, box[1] * sy, box[2] * sx, box[3] * sy]

    people = [(p["person"], scaled(p["box_xyxy"])) for p in persons["persons"]]
    found = [(f["person"], scaled(f["box_xyxy"])) for f in [*faces["faces"], *faces["other_faces"]]]
    return plan_zones(people, found, width, height, face_per_person)


def zone_record(zone, window, method, parameters, resolution):
    """A zone's entry in the decision log's ``strength_zones``: its box (``window``), its face width
    and where that came from, the block side or blur sigma used (``resolution``: (block, sigma)),
    and blocks across the face."""
    block, sigma = resolution
    per = block or sigma
    return {
        "kind": zone.kind, "person": zone.person, "box_xyxy": [int(v) for v in window],
        "face_width": None if zone.face_width is None else round(float(zone.face_width), 2),
        "width_source": zone.width_source, "method": method, "block": block, "sigma": sigma,
        "blocks_across": None if zone.face_width is None or not per else round(zone.face_width / per, 3),
        "parameters": parameters,
    }
