"""The dependency method: action words (w1) and scene words (w2) of a caption.

The caption is parsed lower-cased by a spaCy pipeline (offsets still point
into the caption as given) and read off its dependency tree:

1. Person nouns are the nouns whose lemma is in ``PERSON_NOUNS`` ("man",
   "women", "skier"), plus a ``STANDALONE_GROUP_NOUNS`` noun that stands alone
   ("a couple sitting", not "a couple of bananas"). A noun used as a compound
   modifier ("a baby elephant") is not a person.
2. A person reaches the tree through itself and, when it is the object of
   "of" under a group noun or a number ("a group of people", "two of the
   men"), through that group noun too: the parser attaches the verb to "group".
3. Verbs tied to a person: the verb whose subject (nsubj, nsubjpass) the
   person is ("a woman is holding"), the verb that modifies the person (acl,
   relcl: "a man riding", "a man who is riding"), and, from those, verbs
   chained by conj, xcomp or advcl that have no subject of their own
   ("standing and talking", "trying to catch"). A copula counts as the verb
   ("a man is on the beach").
4. w1, action words: direct objects of the tied verbs, and objects of "with"
   attached to a tied verb or to any word already found from a verb ("sitting
   at a table with a laptop", where "with" may hang off "table").
5. w2, scene words: objects of the other prepositions attached to a tied verb,
   to a person (or its group noun), or to any word already found. Multiword
   prepositions are followed: "next to" (advmod -> prep), "out of" (prep ->
   prep), and "on top of" / "in front of" (the object is a part noun in
   ``LOCATIVE_PART_NOUNS``, so its own "of" object is the scene word).
   "of" elsewhere is partitive ("a plate of food") and is not followed.
6. Conjuncts of a found object are found the same way ("bikes and horses").

Persons, tied verbs, pronouns and tokens without a letter (emoji) are never
w1 or w2 ("next to a woman", "holding it").
A word is its noun-phrase head with its compound modifiers ("coffee shop").

Evidence paths name tokens and arcs, the arrow pointing from head to
dependent: "man -acl-> riding -dobj-> horse" (riding is an acl of man, horse
the dobj of riding), "woman <-nsubj- holding" (woman is the nsubj of holding).
"""

from collections import deque, namedtuple

PERSON_NOUNS = (
    "man", "woman", "person", "people", "boy", "girl", "child", "kid", "baby",
    "toddler", "teenager", "teen", "adult", "guy", "lady", "gentleman",
    "player", "skier", "snowboarder", "skateboarder", "surfer", "rider",
    "biker", "cyclist", "pedestrian", "tourist", "student", "worker", "chef",
    "officer", "policeman", "soldier", "athlete", "batter", "catcher",
    "umpire", "spectator", "passenger", "driver", "vendor", "bride", "groom",
    "mother", "father", "son", "daughter", "friend", "someone", "somebody",
)
# Group nouns whose "of" object may be a person; the verb attaches to them.
GROUP_NOUNS = (
    "group", "crowd", "couple", "bunch", "pair", "team", "family", "line",
    "row", "number", "lot", "few", "handful",
)
# Group nouns that mean persons when they have no "of" object.
STANDALONE_GROUP_NOUNS = ("crowd", "couple", "family", "team")
# "on top of a car": the scene is the car, not the top.
LOCATIVE_PART_NOUNS = (
    "top", "front", "side", "middle", "edge", "back", "bottom", "corner",
    "end", "center", "centre", "inside", "outside", "rear", "base",
)

SUBJECT_DEPS = ("nsubj", "nsubjpass")
MODIFIER_DEPS = ("acl", "relcl")
CHAINED_VERB_DEPS = ("conj", "xcomp", "advcl")
NOUN_POS = ("NOUN", "PROPN")
VERB_POS = ("VERB", "AUX")
NOT_SCENE_PREPOSITIONS = ("with", "of")

Found = namedtuple("Found", "kind token path via_verb")


def analyse_caption(caption, nlp):
    """Person words, tied verbs, w1 and w2 of ``caption`` parsed by ``nlp``, as a plain dict."""
    if not isinstance(caption, str) or not caption.strip():
        return _result(reason="empty caption")
    doc = nlp(_text_to_parse(caption))
    persons = person_nouns(doc)
    if not persons:
        return _result(reason="no person noun in the caption")
    anchors = person_anchors(persons)
    verbs = tied_verbs(anchors)
    found = find_words(anchors, verbs, excluded={token.i for token in persons} | set(verbs.keys()))
    w1 = [item for item in found if item.kind == "w1"]
    w2 = [item for item in found if item.kind == "w2"]
    return _result(
        person_words=[phrase(token, caption) for token in persons],
        verbs=[phrase(verb, caption) for verb, _ in sorted(verbs.values(), key=lambda pair: pair[0].i)],
        w1=[phrase(item.token, caption) for item in w1],
        w2=[phrase(item.token, caption) for item in w2],
        evidence=[evidence(item, caption) for item in w1 + w2],
        reason=_reason(verbs, w1, w2),
    )


def _text_to_parse(caption):
    # Captioners write lower case, and the small model reads a capitalised
    # "Man" as a name; lower-casing is only safe while offsets stay valid.
    lowered = caption.lower()
    return lowered if len(lowered) == len(caption) else caption


def _reason(verbs, w1, w2):
    if w1 or w2:
        return None
    if not verbs:
        return "no verb tied to a person"
    return "no object or place word tied to a person's verb"


def _result(person_words=(), verbs=(), w1=(), w2=(), evidence=(), reason=None):
    return {
        "method": "dependency",
        "person_words": list(person_words),
        "verbs": list(verbs),
        "w1": list(w1),
        "w2": list(w2),
        "evidence": list(evidence),
        "reason": reason,
    }


# Persons and the verbs tied to them.


def person_nouns(doc):
    return [token for token in doc if is_person_noun(token)]


def is_person_noun(token):
    if token.pos_ not in NOUN_POS or token.dep_ == "compound":
        return False
    names = (token.lemma_.lower(), token.lower_)
    if any(name in PERSON_NOUNS for name in names):
        return True
    return any(name in STANDALONE_GROUP_NOUNS for name in names) and _of_object(token) is None


def _of_object(token):
    for child in token.children:
        if child.dep_ == "prep" and child.lower_ == "of":
            return next((grand for grand in child.children if grand.dep_ == "pobj"), None)
    return None


def person_anchors(persons):
    """(token, path) pairs through which a person reaches verbs and prepositions."""
    anchors = []
    for person in persons:
        anchors.append((person, person.lower_))
        group = _group_holding(person)
        if group is not None:
            anchors.append((group, f"{person.lower_} <-pobj- of <-prep- {group.lower_}"))
    return anchors


def _group_holding(person):
    """The group noun or number in "a group of people", "two of the men"; else None."""
    preposition = person.head
    if person.dep_ != "pobj" or preposition.lower_ != "of" or preposition.dep_ != "prep":
        return None
    holder = preposition.head
    if holder.lemma_.lower() in GROUP_NOUNS or holder.pos_ == "NUM":
        return holder
    return None


def tied_verbs(anchors):
    """{token index: (verb, path from the person)} for every verb tied to a person."""
    verbs = {}
    queue = deque()
    for anchor, path in anchors:
        queue.extend(_verbs_at(anchor, path))
    while queue:
        verb, path = queue.popleft()
        if verb.i in verbs:
            continue
        verbs[verb.i] = (verb, path)
        queue.extend(_chained_verbs(verb, path))
    return verbs


def _verbs_at(anchor, path):
    if anchor.dep_ in SUBJECT_DEPS and anchor.head.pos_ in VERB_POS:
        yield anchor.head, f"{path} <-{anchor.dep_}- {anchor.head.lower_}"
    for child in anchor.children:
        if child.dep_ in MODIFIER_DEPS and child.pos_ in VERB_POS:
            yield child, f"{path} -{child.dep_}-> {child.lower_}"


def _chained_verbs(verb, path):
    for child in verb.children:
        if child.dep_ in CHAINED_VERB_DEPS and child.pos_ == "VERB" and not _has_own_subject(child):
            yield child, f"{path} -{child.dep_}-> {child.lower_}"


def _has_own_subject(verb):
    return any(child.dep_ in SUBJECT_DEPS for child in verb.children)


# w1 and w2 words.


def find_words(anchors, verbs, excluded):
    """Found items for w1 and w2 in token order; ``excluded`` token indices are never words."""
    queue = deque()
    for verb, path in verbs.values():
        queue.extend(_direct_objects(verb, path))
        queue.extend(_with_objects(verb, path))
        queue.extend(_scene_objects(verb, path, via_verb=True))
    for anchor, path in anchors:
        queue.extend(_scene_objects(anchor, path, via_verb=False))
    found = {}
    while queue:
        item = queue.popleft()
        token = item.token
        if token.i in found or token.i in excluded or not _is_content_word(token):
            continue
        found[token.i] = item
        # "with" belongs to the action only when the chain started at a verb:
        # "a man with a beard" describes the man.
        if item.via_verb:
            queue.extend(_with_objects(token, item.path))
        queue.extend(_scene_objects(token, item.path, item.via_verb))
    return [found[index] for index in sorted(found)]


def _is_content_word(token):
    # Pronouns ("holding it") name nothing; symbols and emoji are not words.
    return token.pos_ != "PRON" and any(character.isalpha() for character in token.text)


def _direct_objects(verb, path):
    for child in verb.children:
        if child.dep_ == "dobj":
            for token, token_path in _with_conjuncts(child, f"{path} -dobj-> {child.lower_}"):
                yield Found("w1", token, token_path, True)


def _with_objects(head, path):
    for child in head.children:
        if child.dep_ == "prep" and child.lower_ == "with":
            yield from _preposition_objects(child, f"{path} -prep-> with", "w1", True)


def _scene_objects(head, path, via_verb):
    for child in head.children:
        if _is_scene_preposition(child):
            yield from _preposition_objects(child, f"{path} -prep-> {child.lower_}", "w2", via_verb)
        elif child.dep_ == "advmod":
            # "next to": the parser hangs "to" off the adverb "next".
            for grandchild in child.children:
                if _is_scene_preposition(grandchild):
                    grand_path = f"{path} -advmod-> {child.lower_} -prep-> {grandchild.lower_}"
                    yield from _preposition_objects(grandchild, grand_path, "w2", via_verb)


def _is_scene_preposition(token):
    return token.dep_ == "prep" and token.lower_ not in NOT_SCENE_PREPOSITIONS


def _preposition_objects(preposition, path, kind, via_verb):
    for child in preposition.children:
        if child.dep_ == "pobj":
            target, target_path = _through_part_nouns(child, f"{path} -pobj-> {child.lower_}")
            for token, token_path in _with_conjuncts(target, target_path):
                yield Found(kind, token, token_path, via_verb)
        elif child.dep_ == "prep":
            # "out of": the second word of the preposition carries the object.
            yield from _preposition_objects(child, f"{path} -prep-> {child.lower_}", kind, via_verb)


def _through_part_nouns(token, path):
    """From "top" in "on top of a car" to "car"; other tokens are returned as they are."""
    while token.lemma_.lower() in LOCATIVE_PART_NOUNS:
        of_object = _of_object(token)
        if of_object is None:
            break
        path = f"{path} -prep-> of -pobj-> {of_object.lower_}"
        token = of_object
    return token, path


def _with_conjuncts(token, path):
    yield token, path
    for child in token.children:
        if child.dep_ == "conj" and child.pos_ in NOUN_POS:
            yield from _with_conjuncts(child, f"{path} -conj-> {child.lower_}")


# Output entries.


def phrase(head, caption):
    """The word entry for ``head`` with its compound modifiers: word, offsets, token indices."""
    tokens = _phrase_tokens(head)
    start = tokens[0].idx
    end = head.idx + len(head.text)
    return {
        "word": caption[start:end].lower(),
        "start": start,
        "end": end,
        "tokens": [token.i for token in tokens],
    }


def _phrase_tokens(head):
    """``head`` and the contiguous compound modifiers on its left ("coffee shop", "t - shirt")."""
    doc = head.doc
    members = {head.i}
    index = head.i - 1
    while index >= 0 and _joins_phrase(doc[index], members):
        members.add(index)
        index -= 1
    return list(doc[index + 1 : head.i + 1])


def _joins_phrase(token, members):
    if token.head.i not in members:
        return False
    return token.dep_ == "compound" or (token.dep_ == "punct" and token.text == "-")


def evidence(item, caption):
    return {"word": phrase(item.token, caption)["word"], "kind": item.kind, "path": item.path}
