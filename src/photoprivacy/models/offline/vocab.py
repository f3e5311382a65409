"""Tiny vocabularies of the random text models and their tokenizers: WordPiece (BERT, BLIP's
text decoder) and GPT-2's byte-level BPE (the ViT-GPT2 captioner)."""

import itertools
import json
import string
from pathlib import Path

LETTERS = tuple(string.ascii_lowercase)
BERT_SPECIALS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")

GPT2_END = "<|endoftext|>"
# Byte-level words the tiny GPT-2 tokenizer keeps whole ("Ġ" is the space before a word) ...
GPT2_WHOLE_WORDS = (
    "Ġa", "Ġphoto", "Ġof", "Ġthe", "Ġman", "Ġwoman", "Ġdog", "Ġon", "Ġin", "Ġstreet", "Ġwith",
)
# ... and pieces, so " person" -> "Ġper" "son", " bicycle" -> "Ġbi" "cycle", " sitting" -> "Ġsit" "ting".
GPT2_PIECES = ("Ġper", "son", "Ġbi", "cycle", "Ġsit", "ting")


def wordpiece_vocab(leading, trailing=()):
    """WordPiece tokens in id order: the specials, ``leading``, every lower-case letter not in
    ``leading``, every letter as a ``##`` piece, then the ``trailing`` tokens not listed yet.

    With every letter alone and as a piece, any lower-case word has pieces ([UNK] is never needed).
    A ``##`` letter in ``leading`` is listed twice; the tokenizer keeps its later id.
    """
    tokens = [*BERT_SPECIALS, *leading, *(c for c in LETTERS if c not in leading), *(f"##{c}" for c in LETTERS)]
    return tokens + [token for token in dict.fromkeys(trailing) if token not in tokens]


def save_wordpiece_tokenizer(model_dir, tokens, **special_tokens):
    """Write vocab.txt (``tokens`` in id order), then ``BertTokenizer``'s own files; return the
    tokenizer. ``special_tokens``: its keyword arguments beyond BERT's defaults."""
    from transformers import BertTokenizer

    (Path(model_dir) / "vocab.txt").write_text("".join(f"{token}\n" for token in tokens), encoding="utf-8")
    tokenizer = BertTokenizer(vocab={token: index for index, token in enumerate(tokens)}, **special_tokens)
    tokenizer.save_pretrained(str(model_dir))
    return tokenizer


def bytes_to_unicode():
    """GPT-2's reversible map from bytes to printable characters (space -> 'Ġ')."""
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1))
    printable += list(range(ord("®"), ord("ÿ") + 1))
    codes = printable[:]
    extra = 0
    for byte in range(256):
        if byte not in printable:
            printable.append(byte)
            codes.append(256 + extra)
            extra += 1
    return dict(zip(printable, map(chr, codes), strict=True))


def gpt2_vocab_and_merges(vocab_size=None):
    """Byte symbols, BPE merges that build the tiny word list, <|endoftext|> last.

    Each word is built left to right one symbol at a time; every prefix is a
    token. ``vocab_size`` pads with letter strings (never produced by the
    merges, still decodable) up to that size.
    """
    vocab = {symbol: index for index, symbol in enumerate(bytes_to_unicode().values())}
    merges = []
    for word in GPT2_WHOLE_WORDS + GPT2_PIECES:
        for end in range(2, len(word) + 1):
            if word[:end] not in vocab:
                merges.append((word[: end - 1], word[end - 1]))
                vocab[word[:end]] = len(vocab)
    if vocab_size is not None:
        for token in filler_tokens(vocab, vocab_size - 1 - len(vocab), continuation="", word_start="Ġ"):
            vocab[token] = len(vocab)
    vocab[GPT2_END] = len(vocab)
    return vocab, merges


def filler_tokens(known, count, continuation, word_start):
    """``count`` letter strings not in ``known`` (a set or dict), alternating word starts and
    continuations: they pad a vocabulary to the pretrained model's size."""
    found = []
    for length in itertools.count(2):
        for letters in itertools.product(string.ascii_lowercase, repeat=length):
            for token in (word_start + "".join(letters), continuation + "".join(letters)):
                if len(found) == count:
                    return found
                if token not in known:
                    found.append(token)


def save_gpt2_tokenizer(model_dir, vocab_size=None):
    """Write vocab.json and merges.txt, then ``GPT2Tokenizer``'s own files; return the tokenizer."""
    from transformers import GPT2Tokenizer

    vocab, merges = gpt2_vocab_and_merges(vocab_size)
    model_dir = Path(model_dir)
    (model_dir / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
    lines = ["#version: 0.2"] + [f"{left} {right}" for left, right in merges]
    (model_dir / "merges.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    tokenizer = GPT2Tokenizer(vocab=vocab, merges=merges, unk_token=GPT2_END, bos_token=GPT2_END,
                              eos_token=GPT2_END, pad_token=GPT2_END)
    tokenizer.save_pretrained(str(model_dir))
    return tokenizer
