"""Caption words tied to the person's action (w1) and place (w2), read from BERT attention.

The original method, in the style of Clark et al. "What does BERT look at?":

- scene triggers: the first two prepositions of the caption (``in, on, with,
  around, down, at``); w2 is the words attending to them with weight > 0.1 in
  layer 8, head 5;
- action triggers: the first two words containing ``ing`` (``painting,
  living, building`` excluded); w1 is the words attending to them with weight
  > 0.1 in layer 4, head 3.

"Word w attends to trigger X" reads the word-level attention row of w at the
column of X. The rule is literal: ``during``, ``king`` or ``morning`` contain
``ing`` and are action triggers too; "first two" counts occurrences, so a
caption with ``on`` twice has two scene triggers.

Conventions:

- Word pieces are merged into words as Clark et al. do: attention TO a word is
  the sum over its pieces (columns), attention FROM a word is the mean over its
  pieces (rows). [CLS] and [SEP] (word id None) are no words: their rows and
  columns are dropped, never renormalised away.
- Numbering: the original names "layer 8, head 5" without saying whether it
  counts from 0 or 1. ``index_base`` (config.yaml: language.bert.index_base)
  says which: with 1 layer 8 is the 8th layer, ``attentions[7]``, and head 5 is
  head index 4; with 0 layer 8 is ``attentions[8]`` and head 5 is index 5.
  Evidence reports layer and head in the numbering of the parameters.
- Threshold (language.bert.threshold): strict ``>``, compared at the
  attention's storage precision, so a stored 0.1 (float32 or float64) is not enough.
- Results: no word counts as attending to itself, and no trigger word (of
  either kind, by its text) is returned in w1 or w2. w1 and w2 list each word
  once, in caption order; the evidence has one entry per (word occurrence,
  trigger occurrence) above the threshold.
- Tokenisation (``analyse_caption_bert``): the caption is split on whitespace,
  punctuation is stripped from each word's ends (``beach.`` -> ``beach``),
  empty words are dropped, and the words go to the tokenizer with
  ``is_split_into_words=True``, so a word is a whitespace word of the caption
  and ``word_ids()`` maps each piece to it. Words are returned lower-cased.
"""

import string

import numpy as np

from ..models.families import verify_model

METHOD = "bert_attention"

# The original rule's constants, in the numbering of ``index_base``. No config key sets them;
# a ``rule`` dict may still override them (tests, explorations).
RULE_CONSTANTS = {
    "prepositions": ("in", "on", "with", "around", "down", "at"),
    "action_marker": "ing",
    "excluded_action_words": ("painting", "living", "building"),
    "max_scene_triggers": 2,
    "max_action_triggers": 2,
    "scene_layer": 8,
    "scene_head": 5,
    "action_layer": 4,
    "action_head": 3,
}
# What config.yaml sets (language.bert): every ``rule`` carries them.
CONFIG_KEYS = ("index_base", "threshold")

REASON_EMPTY = "empty caption"
REASON_NO_TRIGGERS = "no trigger words in the caption (no preposition, no word with the action marker)"


def resolve_params(rule):
    """``RULE_CONSTANTS`` overridden by ``rule``, which must carry ``CONFIG_KEYS`` (language.bert);
    missing or unknown keys and bad numbering are errors."""
    rule = dict(rule)
    missing = [key for key in CONFIG_KEYS if key not in rule]
    if missing:
        raise ValueError(f"bert_attention rule lacks {missing} (config.yaml: language.bert)")
    known = {*RULE_CONSTANTS, *CONFIG_KEYS}
    unknown = sorted(set(rule) - known)
    if unknown:
        raise ValueError(f"unknown bert_attention parameters {unknown} (known: {sorted(known)})")
    resolved = {**RULE_CONSTANTS, **rule}
    base = resolved["index_base"]
    if base not in (0, 1):
        raise ValueError(f"bert_attention index_base must be 0 or 1, not {base!r}")
    for key in ("scene_layer", "scene_head", "action_layer", "action_head"):
        if int(resolved[key]) < base:
            raise ValueError(f"bert_attention {key}={resolved[key]} is below index_base={base}")
    return resolved


# --- the rule, on given attention -------------------------------------------------------------


def words_from_attention(pieces, word_ids, attentions, rule, words=None):
    """w1 (action) and w2 (scene) words from one caption's attention.

    ``pieces``: the tokenizer pieces, specials included; ``word_ids``: the word
    index of each piece, None for specials; ``attentions``: a sequence over
    layers of (heads, seq, seq) arrays or tensors (a leading batch axis of 1 is
    dropped). ``words``: the caption words indexed by word id; without it a
    word's text is its pieces joined with ``##`` removed. ``rule``: ``index_base`` and
    ``threshold`` (config.yaml: language.bert), optionally overrides of ``RULE_CONSTANTS``.
    """
    params = resolve_params(rule)
    word_order, word_pieces = group_pieces(word_ids)
    texts = {w: word_text(w, word_pieces[w], pieces, words) for w in word_order}
    triggers = {
        "action": action_triggers(word_order, texts, params),
        "scene": scene_triggers(word_order, texts, params),
    }
    trigger_names = {kind: [texts[w] for w in ids] for kind, ids in triggers.items()}
    if not word_order:
        return result([], [], trigger_names, [], REASON_EMPTY)
    if not triggers["action"] and not triggers["scene"]:
        return result([], [], trigger_names, [], REASON_NO_TRIGGERS)

    trigger_texts = {name for names in trigger_names.values() for name in names}
    attending, evidence = {}, []
    for kind in ("action", "scene"):
        attending[kind], kind_evidence = attending_words(
            kind, triggers[kind], trigger_texts, pieces, attentions, word_order, word_pieces, texts, params
        )
        evidence += kind_evidence
    w1 = in_caption_order(attending["action"], texts)
    w2 = in_caption_order(attending["scene"], texts)
    reason = None if w1 or w2 else f"no word attends to a trigger with weight > {params['threshold']}"
    return result(w1, w2, trigger_names, evidence, reason)


def attending_words(kind, trigger_ids, trigger_texts, pieces, attentions, word_order, word_pieces, texts, params):
    """Word ids attending to ``kind``'s triggers in its layer and head, and one evidence entry per link."""
    if not trigger_ids:
        return set(), []
    layer, head = params[f"{kind}_layer"], params[f"{kind}_head"]
    head_attention = select_head(attentions, layer, head, params["index_base"], len(pieces))
    threshold = at_storage_precision(params["threshold"], head_attention)
    merged = merge_pieces(to_float64(head_attention), word_order, word_pieces)
    attending, evidence = set(), []
    for row, column, weight in links_above(merged, word_order, texts, trigger_ids, trigger_texts, threshold):
        attending.add(word_order[row])
        evidence.append({
            "word": texts[word_order[row]], "kind": kind, "trigger": texts[word_order[column]],
            "weight": weight, "layer": layer, "head": head,
        })
    return attending, evidence


def result(w1, w2, triggers, evidence, reason):
    return {"method": METHOD, "w1": w1, "w2": w2, "triggers": triggers, "evidence": evidence, "reason": reason}


def group_pieces(word_ids):
    """Word ids in caption order and the piece positions of each; specials (None) belong to no word."""
    word_pieces = {}
    for position, word_id in enumerate(word_ids):
        if word_id is not None:
            word_pieces.setdefault(word_id, []).append(position)
    return sorted(word_pieces), word_pieces


def word_text(word_id, positions, pieces, words):
    if words is not None:
        return words[word_id].lower()
    return "".join(pieces[p].removeprefix("##") for p in positions).lower()


def scene_triggers(word_order, texts, params):
    prepositions = set(params["prepositions"])
    found = [w for w in word_order if texts[w] in prepositions]
    return found[: params["max_scene_triggers"]]


def action_triggers(word_order, texts, params):
    excluded = set(params["excluded_action_words"])
    marker = params["action_marker"]
    found = [w for w in word_order if marker in texts[w] and texts[w] not in excluded]
    return found[: params["max_action_triggers"]]


def select_head(attentions, layer, head, index_base, seq_len):
    """The (seq, seq) attention map of ``layer``/``head`` numbered from ``index_base``."""
    layer_index, head_index = layer - index_base, head - index_base
    if not 0 <= layer_index < len(attentions):
        raise ValueError(
            f"layer {layer} (index_base={index_base}) is attentions[{layer_index}], "
            f"but there are {len(attentions)} layers"
        )
    layer_attention = attentions[layer_index]
    if layer_attention.ndim == 4:
        layer_attention = layer_attention[0]
    if not 0 <= head_index < layer_attention.shape[0]:
        raise ValueError(
            f"head {head} (index_base={index_base}) is head index {head_index}, "
            f"but layer {layer} has {layer_attention.shape[0]} heads"
        )
    head_attention = layer_attention[head_index]
    if tuple(head_attention.shape) != (seq_len, seq_len):
        raise ValueError(f"attention map of shape {tuple(head_attention.shape)} does not fit {seq_len} pieces")
    return head_attention


def at_storage_precision(threshold, values):
    """``threshold`` rounded to the dtype ``values`` are stored in, so a stored 0.1 never passes > 0.1."""
    if hasattr(values, "detach"):
        import torch

        return torch.tensor(threshold, dtype=values.dtype).item()
    return np.asarray(threshold, dtype=np.asarray(values).dtype).item()


def to_float64(values):
    if hasattr(values, "detach"):
        values = values.detach().to("cpu").double().numpy()
    return np.asarray(values, dtype=np.float64)


def merge_pieces(head_attention, word_order, word_pieces):
    """Word-by-word attention: sum over the target word's pieces, mean over the source word's pieces."""
    to_words = np.stack([head_attention[:, word_pieces[w]].sum(axis=1) for w in word_order], axis=1)
    return np.stack([to_words[word_pieces[w]].mean(axis=0) for w in word_order], axis=0)


def links_above(merged, word_order, texts, trigger_ids, trigger_texts, threshold):
    """(row, column, weight) of every word attending to a trigger above ``threshold``.

    Rows whose word is the trigger itself or has any trigger's text are skipped.
    """
    for column, trigger in enumerate(word_order):
        if trigger not in trigger_ids:
            continue
        for row, word in enumerate(word_order):
            weight = float(merged[row, column])
            if word != trigger and texts[word] not in trigger_texts and weight > threshold:
                yield row, column, weight


def in_caption_order(word_ids, texts):
    """Each word's text once, in caption order."""
    return list(dict.fromkeys(texts[w] for w in sorted(word_ids)))


# --- the model ---------------------------------------------------------------------------------


def caption_words(caption):
    """The caption's whitespace words with punctuation stripped from their ends; empty ones dropped."""
    stripped = (word.strip(string.punctuation) for word in (caption or "").split())
    return [word for word in stripped if word]


def load_bert(model_dir, device="cpu"):
    """A local BERT folder (never the network): ``BertModel`` with eager attention and its tokenizer.

    The folder's manifest is verified and must list the family's files (``models.families``).
    """
    from transformers import BertModel, BertTokenizer

    verify_model("bert", model_dir)
    model = BertModel.from_pretrained(
        str(model_dir), local_files_only=True, use_safetensors=True, attn_implementation="eager"
    )
    tokenizer = BertTokenizer.from_pretrained(str(model_dir), local_files_only=True)
    return model.eval().to(device), tokenizer


def bert_attentions(words, model, tokenizer):
    """Pieces, word ids and per-layer (heads, seq, seq) attention of one caption, batch 1."""
    import torch

    encoding = tokenizer(
        words, is_split_into_words=True, truncation=True,
        max_length=model.config.max_position_embeddings, return_tensors="pt",
    )
    with torch.inference_mode():
        outputs = model(**encoding.to(model.device), output_attentions=True)
    attentions = tuple(layer[0].float().cpu() for layer in outputs.attentions)
    return encoding.tokens(), encoding.word_ids(), attentions


def analyse_caption_bert(caption, model, tokenizer, rule):
    """``words_from_attention`` (with ``rule``) on the caption's BERT attention; see the module docstring for
    tokenisation."""
    words = caption_words(caption)
    if not words:
        return words_from_attention([], [], (), rule, words=words)
    pieces, word_ids, attentions = bert_attentions(words, model, tokenizer)
    return words_from_attention(pieces, word_ids, attentions, rule, words=words)

