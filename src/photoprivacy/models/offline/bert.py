"""A random BERT (transformers ``BertModel``) and its WordPiece tokenizer, as
``language.bert_attention`` loads them."""

from pathlib import Path

import torch

from .vocab import save_wordpiece_tokenizer, wordpiece_vocab

# Words of the tests and the offline captions; "surf ##ing" and "kite ##s" make words that split.
RANDOM_VOCAB_WORDS = (
    "a", "an", "the", "man", "woman", "boy", "girl", "people", "dog", "horse", "bike", "ball",
    "beach", "park", "street", "bench", "table", "water", "grass", "is", "are", "and", "his", "her",
    "red", "riding", "walking", "sitting", "playing", "standing", "painting", "living", "building",
    "room", "wall", "in", "on", "with", "around", "down", "at", "of", "to", "surf", "kite",
    "##ing", "##s", "##board", ".", ",", "'",
)


def random_bert_config(size, vocab_size):
    """``tiny``: 8 layers x 5 heads, so layer 8 / head 5 exist; ``full``: bert-base-uncased sizes."""
    from transformers import BertConfig

    if size == "full":
        return BertConfig()
    if size == "tiny":
        return BertConfig(
            vocab_size=vocab_size, hidden_size=20, num_hidden_layers=8, num_attention_heads=5,
            intermediate_size=40, max_position_embeddings=128,
        )
    raise ValueError(f"unknown random BERT size '{size}' (expected 'tiny' or 'full')")


def build_random_bert(model_dir, size="tiny", seed=0):
    """Save a random ``BertModel`` and a WordPiece tokenizer over ``RANDOM_VOCAB_WORDS`` in ``model_dir``.

    "##s" is one of the words and a letter piece, so the vocabulary lists it twice
    (``wordpiece_vocab``) and the embedding has a row no token reaches. It stays: the
    vocabulary's size shapes the random draw, so dropping it would change every tiny BERT.
    """
    from transformers import BertModel

    model_dir = Path(model_dir)
    model_dir.mkdir(parents=True, exist_ok=True)
    tokens = wordpiece_vocab(RANDOM_VOCAB_WORDS)
    save_wordpiece_tokenizer(model_dir, tokens)
    torch.manual_seed(seed)
    model = BertModel(random_bert_config(size, len(tokens))).eval()
    model.save_pretrained(str(model_dir), safe_serialization=True)
    return model
