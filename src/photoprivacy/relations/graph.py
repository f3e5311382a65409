"""Person-to-object edges from three kinds of evidence.

- ``nearest``: the object whose box centre is closest to the person's box
  centre (the original method's rule), with the distance in pixels.
- ``overlaps``: objects whose box overlaps the person's box, with the IoU and
  the share of the object inside the person box (``contained`` when that
  share reaches ``containment``).
- ``action_object``: objects whose COCO label grounds one of the caption's
  action words (w1), by name, plural or a synonym from ``SYNONYMS``; the
  nearest such object per word.

Every edge is a dict: person, object (detection index), label, predicate, evidence.
"""

from ..geometry import box_area, box_intersection, box_iou, centre_distance

# Caption words that name a COCO category differently (keys are COCO names).
SYNONYMS = {
    "person": ("man", "woman", "men", "women", "boy", "girl", "child", "people", "kid", "player", "guy", "lady"),
    "bicycle": ("bike", "cycle"),
    "motorcycle": ("motorbike", "scooter", "moped"),
    "airplane": ("plane", "aeroplane", "jet", "aircraft"),
    "car": ("automobile", "vehicle", "taxi", "cab"),
    "truck": ("lorry", "pickup"),
    "boat": ("ship", "kayak", "canoe", "sailboat"),
    "tv": ("television", "monitor", "screen"),
    "laptop": ("computer", "notebook"),
    "cell phone": ("phone", "cellphone", "smartphone", "mobile"),
    "couch": ("sofa",),
    "dining table": ("table", "desk"),
    "sports ball": ("ball", "football", "soccer ball", "basketball", "volleyball"),
    "wine glass": ("glass", "wineglass"),
    "cup": ("mug",),
    "donut": ("doughnut",),
    "hot dog": ("hotdog",),
    "potted plant": ("plant", "flower", "flowers"),
    "teddy bear": ("teddy", "stuffed animal"),
    "hair drier": ("hair dryer", "hairdryer", "dryer"),
    "remote": ("remote control", "controller"),
    "frisbee": ("disc", "flying disc"),
    "surfboard": ("surf board", "board"),
    "skateboard": ("skate board",),
    "skis": ("ski",),
    "handbag": ("bag", "purse"),
    "backpack": ("rucksack",),
    "umbrella": ("parasol",),
    "tennis racket": ("racket", "racquet"),
    "baseball bat": ("bat",),
    "baseball glove": ("glove", "mitt"),
    "suitcase": ("luggage",),
    "refrigerator": ("fridge",),
    "oven": ("stove",),
}


def _singular_candidates(word):
    """The word and what it could be the plural of (horses -> horse, buses -> bus, skies -> sky)."""
    candidates = {word}
    if word.endswith("s") and not word.endswith("ss"):
        candidates.add(word[:-1])
    if word.endswith("es"):
        candidates.add(word[:-2])
    if word.endswith("ies"):
        candidates.add(word[:-3] + "y")
    return candidates


def grounds(word, label):
    """Does a caption word name the COCO category ``label``?"""
    word = " ".join(word.lower().split())
    names = {label, *SYNONYMS.get(label, ())}
    return bool(_singular_candidates(word) & names)


def relation_edges(persons, objects, action_words=(), *, containment):
    """Edges from each person to objects. ``persons``/``objects``: dicts with
    ``index`` (detection index), ``label`` and ``box_xyxy``. An overlapping object is
    ``contained`` when at least ``containment`` (relations.containment) of it lies in the person box."""
    edges = []
    for person in persons:
        box = person["box_xyxy"]
        if objects:
            nearest = min(objects, key=lambda o: (centre_distance(box, o["box_xyxy"]), o["index"]))
            edges.append(_edge(person, nearest, "nearest",
                               {"centre_distance": round(centre_distance(box, nearest["box_xyxy"]), 3)}))
        for obj in objects:
            shared = box_intersection(box, obj["box_xyxy"])
            if shared <= 0:
                continue
            iou = box_iou(box, obj["box_xyxy"])
            inside = shared / box_area(obj["box_xyxy"]) if box_area(obj["box_xyxy"]) > 0 else 0.0
            predicate = "contained" if inside >= containment else "overlaps"
            edges.append(_edge(person, obj, predicate, {"iou": round(iou, 4), "inside": round(inside, 4)}))
        for word in action_words:
            named = [o for o in objects if grounds(word, o["label"])]
            if named:
                chosen = min(named, key=lambda o: (centre_distance(box, o["box_xyxy"]), o["index"]))
                edges.append(_edge(person, chosen, "action_object", {"word": word, "label": chosen["label"]}))
    return edges


def _edge(person, obj, predicate, evidence):
    return {"person": person["index"], "object": obj["index"], "label": obj["label"],
            "predicate": predicate, "evidence": evidence}
