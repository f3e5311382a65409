import re

import numpy as np
import pytest
import torch

from photoprivacy.errors import ModelNotAvailable
from photoprivacy.language.bert_attention import (
    REASON_EMPTY,
    REASON_NO_TRIGGERS,
    analyse_caption_bert,
    caption_words,
    load_bert,
    words_from_attention,
)
from photoprivacy.models.families import MODEL_FAMILIES, build_random
from photoprivacy.models.offline.bert import random_bert_config

# The original's rule, which the hand-made cases below assume (config.yaml's language.bert is the same).
RULE = {"index_base": 1, "threshold": 0.1}
# Where the rule's heads read under index_base=1: layer 8 head 5 and layer 4 head 3.
SCENE_1 = (7, 4)
ACTION_1 = (3, 2)
# The same names under index_base=0.
SCENE_0 = (8, 5)
ACTION_0 = (4, 3)


def single_piece_caption(words):
    """Pieces and word ids of ``words`` when each word is one piece, between [CLS] and [SEP]."""
    pieces = ["[CLS]", *words, "[SEP]"]
    word_ids = [None, *range(len(words)), None]
    return pieces, word_ids


def hand_attention(seq_len, links, dtype=np.float32, layers=12, heads=12):
    """Zero attention except ``links``: {(layer_index, head_index): [(row, column, weight), ...]}."""
    attention = np.zeros((layers, heads, seq_len, seq_len), dtype=dtype)
    for (layer, head), cells in links.items():
        for row, column, weight in cells:
            attention[layer, head, row, column] = weight
    return tuple(attention)


# "a man riding a horse on the beach": positions are pieces, [CLS] is 0.
RIDING_WORDS = ["a", "man", "riding", "a", "horse", "on", "the", "beach"]
CLS, A, MAN, RIDING, A2, HORSE, ON, THE, BEACH, SEP = range(10)
RIDING_LINKS = {
    SCENE_1: [
        (BEACH, ON, 0.5), (HORSE, ON, 0.11),
        (THE, ON, 0.1),  # exactly the threshold: not enough
        (ON, ON, 0.9),  # itself
        (CLS, ON, 0.9), (SEP, ON, 0.9),  # specials
        (RIDING, ON, 0.6),  # the other kind's trigger
    ],
    ACTION_1: [
        (MAN, RIDING, 0.3), (HORSE, RIDING, 0.2), (RIDING, RIDING, 0.5), (ON, RIDING, 0.4),
        (CLS, RIDING, 0.9), (A, CLS, 0.9),  # attention to a special is no word
    ],
    SCENE_0: [(A, ON, 0.9)],
    ACTION_0: [(A2, RIDING, 0.9)],
}


def riding_case(dtype=np.float32):
    pieces, word_ids = single_piece_caption(RIDING_WORDS)
    return pieces, word_ids, hand_attention(len(pieces), RIDING_LINKS, dtype=dtype)


def test_hand_made_attention_gives_exact_words():
    found = words_from_attention(*riding_case(), RULE)
    assert found["method"] == "bert_attention"
    assert found["w1"] == ["man", "horse"]
    assert found["w2"] == ["horse", "beach"]
    assert found["triggers"] == {"action": ["riding"], "scene": ["on"]}
    assert found["reason"] is None


def test_evidence_names_word_trigger_weight_layer_and_head():
    evidence = words_from_attention(*riding_case(), RULE)["evidence"]
    summary = sorted((e["kind"], e["word"], e["trigger"], e["layer"], e["head"]) for e in evidence)
    assert summary == [
        ("action", "horse", "riding", 4, 3), ("action", "man", "riding", 4, 3),
        ("scene", "beach", "on", 8, 5), ("scene", "horse", "on", 8, 5),
    ]
    weights = {(e["kind"], e["word"]): e["weight"] for e in evidence}
    assert weights[("scene", "beach")] == pytest.approx(0.5)
    assert weights[("action", "man")] == pytest.approx(0.3)


def test_exact_threshold_is_not_enough_in_float32_float64_and_torch():
    pieces, word_ids, attention = riding_case(dtype=np.float64)
    assert "the" not in words_from_attention(pieces, word_ids, attention, RULE)["w2"]
    tensors = tuple(torch.from_numpy(layer.astype(np.float32)) for layer in attention)
    assert words_from_attention(pieces, word_ids, tensors, RULE) == words_from_attention(*riding_case(), RULE)


def test_threshold_is_a_parameter():
    found = words_from_attention(*riding_case(), {**RULE, "threshold": 0.099})
    assert found["w2"] == ["horse", "the", "beach"]


def test_index_base_zero_reads_another_layer_and_head():
    found = words_from_attention(*riding_case(), {**RULE, "index_base": 0})
    assert found["w1"] == ["a"]
    assert found["w2"] == ["a"]
    assert {(e["layer"], e["head"]) for e in found["evidence"]} == {(4, 3), (8, 5)}


def test_layers_and_heads_are_parameters():
    found = words_from_attention(*riding_case(), {**RULE, "scene_layer": 4, "scene_head": 3})
    assert found["w2"] == []
    assert found["w1"] == ["man", "horse"]


def test_only_the_first_two_prepositions_are_triggers():
    words = ["man", "in", "park", "on", "grass", "at", "home"]
    pieces, word_ids = single_piece_caption(words)
    IN, PARK, ON_, GRASS, AT, HOME = 2, 3, 4, 5, 6, 7
    links = {SCENE_1: [(PARK, IN, 0.5), (GRASS, ON_, 0.5), (HOME, AT, 0.5)]}
    found = words_from_attention(pieces, word_ids, hand_attention(len(pieces), links), RULE)
    assert found["triggers"]["scene"] == ["in", "on"]
    assert found["w2"] == ["park", "grass"]


def test_only_the_first_two_ing_words_count_and_excluded_ones_never():
    words = ["painting", "living", "building", "walking", "talking", "running", "dog", "man", "boy", "cat"]
    pieces, word_ids = single_piece_caption(words)
    at = {word: i + 1 for i, word in enumerate(words)}
    links = {ACTION_1: [
        (at["dog"], at["painting"], 0.9), (at["dog"], at["living"], 0.9), (at["dog"], at["building"], 0.9),
        (at["man"], at["walking"], 0.5), (at["boy"], at["talking"], 0.5), (at["cat"], at["running"], 0.5),
        (at["painting"], at["walking"], 0.5),  # an excluded word is no trigger, but may attend
    ]}
    found = words_from_attention(pieces, word_ids, hand_attention(len(pieces), links), RULE)
    assert found["triggers"] == {"action": ["walking", "talking"], "scene": []}
    assert found["w1"] == ["painting", "man", "boy"]


def test_pieces_merge_sum_to_the_trigger_and_mean_from_the_word():
    pieces = ["[CLS]", "a", "man", "surf", "##ing", "on", "the", "surf", "##board", "kite", "##s", "[SEP]"]
    word_ids = [None, 0, 1, 2, 2, 3, 4, 5, 5, 6, 6, None]
    MAN_, SURF, ING, ON_, THE_, BOARD_1, BOARD_2, KITE, KITE_S = 2, 3, 4, 5, 6, 7, 8, 9, 10
    links = {
        ACTION_1: [
            (MAN_, SURF, 0.06), (MAN_, ING, 0.05),  # sum 0.11 > 0.1
            (THE_, SURF, 0.05), (THE_, ING, 0.05),  # sum exactly 0.1
        ],
        SCENE_1: [
            (BOARD_1, ON_, 0.3), (BOARD_2, ON_, 0.0),  # mean 0.15 > 0.1
            (KITE, ON_, 0.2), (KITE_S, ON_, 0.0),  # mean exactly 0.1, though one piece is above
        ],
    }
    found = words_from_attention(pieces, word_ids, hand_attention(len(pieces), links), RULE)
    assert found["triggers"] == {"action": ["surfing"], "scene": ["on"]}
    assert found["w1"] == ["man"]
    assert found["w2"] == ["surfboard"]


def test_words_argument_names_the_words():
    pieces, word_ids, attention = riding_case()
    words = ["A", "Man", "riding", "a", "Horse", "on", "the", "Beach"]
    found = words_from_attention(pieces, word_ids, attention, RULE, words=words)
    assert found["w2"] == ["horse", "beach"]


def test_a_batch_axis_of_one_is_accepted():
    pieces, word_ids, attention = riding_case()
    batched = tuple(layer[None] for layer in attention)
    expected = words_from_attention(pieces, word_ids, attention, RULE)
    assert words_from_attention(pieces, word_ids, batched, RULE) == expected


def test_bad_parameters_are_errors():
    case = riding_case()
    with pytest.raises(ValueError, match="unknown"):
        words_from_attention(*case, {**RULE, "treshold": 0.2})
    with pytest.raises(ValueError, match="index_base"):
        words_from_attention(*case, {**RULE, "index_base": 2})
    with pytest.raises(ValueError, match="layers"):
        words_from_attention(*case, {**RULE, "scene_layer": 13})


@pytest.mark.parametrize("key", ["index_base", "threshold"])
def test_a_rule_without_a_config_key_is_an_error(key):
    rule = {name: value for name, value in RULE.items() if name != key}
    with pytest.raises(ValueError, match=re.escape(f"lacks ['{key}'] (config.yaml: language.bert)")):
        words_from_attention(*riding_case(), rule)


def test_no_words_or_no_triggers_give_empty_lists_and_a_reason():
    empty = words_from_attention(["[CLS]", "[SEP]"], [None, None], hand_attention(2, {}), RULE)
    assert (empty["w1"], empty["w2"], empty["reason"]) == ([], [], REASON_EMPTY)
    assert empty["triggers"] == {"action": [], "scene": []}
    assert words_from_attention([], [], (), RULE)["reason"] == REASON_EMPTY
    pieces, word_ids = single_piece_caption(["a", "red", "dog"])
    plain = words_from_attention(pieces, word_ids, hand_attention(len(pieces), {}), RULE)
    assert (plain["w1"], plain["w2"], plain["reason"]) == ([], [], REASON_NO_TRIGGERS)


def test_triggers_without_attendees_give_a_reason():
    pieces, word_ids = single_piece_caption(["a", "man", "on", "grass"])
    found = words_from_attention(pieces, word_ids, hand_attention(len(pieces), {}), RULE)
    assert found["triggers"]["scene"] == ["on"]
    assert found["w2"] == [] and "0.1" in found["reason"]


def test_caption_words_strip_punctuation_and_drop_empty_words():
    assert caption_words("A man, riding... a horse -- on the beach.") == [
        "A", "man", "riding", "a", "horse", "on", "the", "beach"
    ]
    assert caption_words("") == [] and caption_words(None) == []


# --- the tiny random BERT through the real loader ------------------------------------------------


@pytest.fixture(scope="module")
def tiny_bert(tmp_path_factory):
    model_dir = tmp_path_factory.mktemp("models") / "bert-tiny"
    build_random("bert", model_dir, "tiny", 0)
    return model_dir


@pytest.fixture(scope="module")
def tiny_model(tiny_bert):
    return load_bert(tiny_bert)


CAPTION = "A man surfing on the beach, riding a horse."


def test_tiny_folder_has_the_required_files_and_splits_words(tiny_bert, tiny_model):
    assert all((tiny_bert / name).is_file() for name in MODEL_FAMILIES["bert"].required_files)
    model, tokenizer = tiny_model
    assert model.config.num_hidden_layers == 8 and model.config.num_attention_heads == 5
    assert tokenizer(["surfing"], is_split_into_words=True).tokens() == ["[CLS]", "surf", "##ing", "[SEP]"]


def test_tiny_bert_result_structure_and_determinism(tiny_model):
    model, tokenizer = tiny_model
    found = analyse_caption_bert(CAPTION, model, tokenizer, RULE)
    assert set(found) == {"method", "w1", "w2", "triggers", "evidence", "reason"}
    assert found["triggers"] == {"action": ["surfing", "riding"], "scene": ["on"]}
    for entry in found["evidence"]:
        assert set(entry) == {"word", "kind", "trigger", "weight", "layer", "head"}
        assert entry["weight"] > 0.1
    assert analyse_caption_bert(CAPTION, model, tokenizer, RULE) == found


def test_tiny_bert_matches_the_rule_on_attention_computed_here(tiny_model):
    model, tokenizer = tiny_model
    words = caption_words(CAPTION)
    encoding = tokenizer(words, is_split_into_words=True, return_tensors="pt")
    with torch.no_grad():
        attentions = model(**encoding, output_attentions=True).attentions
    variants = ({}, {"threshold": 0.05}, {"index_base": 0, "scene_layer": 7, "scene_head": 4, "action_layer": 3})
    for rule in ({**RULE, **variant} for variant in variants):
        direct = words_from_attention(
            encoding.tokens(), encoding.word_ids(), [a[0] for a in attentions], rule, words=words
        )
        assert analyse_caption_bert(CAPTION, model, tokenizer, rule) == direct


def test_tiny_bert_with_zero_threshold_returns_every_other_word(tiny_model):
    model, tokenizer = tiny_model
    found = analyse_caption_bert(CAPTION, model, tokenizer, {**RULE, "threshold": 0.0})
    assert found["w1"] == found["w2"] == ["a", "man", "the", "beach", "horse"]


def test_tiny_bert_empty_caption_and_caption_without_triggers(tiny_model):
    model, tokenizer = tiny_model
    for caption in ("", "   ", "..."):
        found = analyse_caption_bert(caption, model, tokenizer, RULE)
        assert (found["w1"], found["w2"], found["reason"]) == ([], [], REASON_EMPTY)
    plain = analyse_caption_bert("a red dog.", model, tokenizer, RULE)
    assert (plain["w1"], plain["w2"], plain["reason"]) == ([], [], REASON_NO_TRIGGERS)


def test_tiny_bert_has_no_layer_eight_under_index_base_zero(tiny_model):
    model, tokenizer = tiny_model
    with pytest.raises(ValueError, match="attentions\\[8\\]"):
        analyse_caption_bert(CAPTION, model, tokenizer, {**RULE, "index_base": 0})


def test_load_bert_needs_a_verified_folder(tmp_path):
    with pytest.raises(ModelNotAvailable, match="manifest.json is missing"):
        load_bert(tmp_path)


def test_random_config_sizes():
    full = random_bert_config("full", 100)
    assert (full.num_hidden_layers, full.num_attention_heads, full.hidden_size, full.vocab_size) == (12, 12, 768, 30522)
    with pytest.raises(ValueError, match="size"):
        random_bert_config("huge", 100)
