"""Person-to-object edges: nearest centre, overlap and containment, grounding of action words."""

import pytest

from photoprivacy.relations.graph import grounds, relation_edges


def thing(index, label, box):
    return {"index": index, "label": label, "box_xyxy": box}


MAN = thing(0, "person", [100, 100, 200, 400])
HORSE = thing(1, "horse", [150, 250, 400, 450])  # overlaps the man
CUP = thing(2, "cup", [120, 200, 140, 220])  # inside the man's box
CAR = thing(3, "car", [600, 100, 800, 200])  # far away
CONTAINMENT = 0.5  # share of an object inside the person box that makes it contained


def test_nearest_object_by_centre_distance():
    edges = relation_edges([MAN], [HORSE, CAR], containment=CONTAINMENT)
    nearest = [e for e in edges if e["predicate"] == "nearest"]
    # Centres: man (150, 250), horse (275, 350) -> sqrt(125^2 + 100^2) = 160.078.
    assert nearest == [{"person": 0, "object": 1, "label": "horse", "predicate": "nearest",
                        "evidence": {"centre_distance": 160.078}}]


def test_overlap_and_containment():
    edges = relation_edges([MAN], [HORSE, CUP, CAR], containment=CONTAINMENT)
    overlapping = {e["object"]: e for e in edges if e["predicate"] in ("overlaps", "contained")}
    assert set(overlapping) == {1, 2}
    # Man 100x300 = 30000, horse 250x200 = 50000, shared 50x150 = 7500: IoU 7500 / 72500.
    assert overlapping[1]["predicate"] == "overlaps"
    assert overlapping[1]["evidence"] == {"iou": round(7500 / 72500, 4), "inside": 0.15}
    assert overlapping[2]["predicate"] == "contained" and overlapping[2]["evidence"]["inside"] == 1.0


def test_action_words_ground_to_labels_by_name_plural_and_synonym():
    edges = relation_edges([MAN], [HORSE, CUP, CAR], action_words=["horses", "mug", "laptop"],
                           containment=CONTAINMENT)
    grounded = [(e["evidence"]["word"], e["object"]) for e in edges if e["predicate"] == "action_object"]
    assert grounded == [("horses", 1), ("mug", 2)]


@pytest.mark.parametrize(
    ("word", "label", "expected"),
    [("bike", "bicycle", True), ("Phone", "cell phone", True), ("table", "dining table", True),
     ("glasses", "wine glass", True), ("skis", "skis", True), ("horse", "cow", False),
     ("  teddy   bear ", "teddy bear", True), ("buses", "bus", True), ("puppies", "dog", False)],
)
def test_grounds(word, label, expected):
    assert grounds(word, label) is expected


def test_no_objects_or_no_persons_give_no_edges():
    assert relation_edges([MAN], [], containment=CONTAINMENT) == []
    assert relation_edges([], [HORSE], containment=CONTAINMENT) == []


def test_ties_go_to_the_earlier_detection():
    left = thing(5, "cup", [0, 240, 100, 260])
    right = thing(4, "cup", [200, 240, 300, 260])  # same distance to the man's centre
    edges = relation_edges([MAN], [left, right], containment=CONTAINMENT)
    nearest = [e for e in edges if e["predicate"] == "nearest"]
    assert nearest[0]["object"] == 4
