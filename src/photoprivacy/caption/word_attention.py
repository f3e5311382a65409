"""Captions and one cross-attention map per caption word.

The decoder's output at position t-1 predicts the token at position t, so a
token's map is the cross-attention of query position t-1. The maps come from
one teacher-forced decoder pass over the generated sequence (the caption
with its start token), not from ``generate``'s per-step attentions:

* BLIP's ``generate`` runs its text decoder as a decoder-only model, which
  returns no cross-attentions.
* The decoder is causal: the query at position t-1 sees only tokens 0..t-1
  and the (fixed) encoder states. Whatever search produced the sequence,
  the step that chose token t ran the decoder on exactly that prefix: with
  beam search, the returned beam's prefix at that step. So the teacher-forced
  query t-1 is the same computation as that step (up to float rounding of
  cached versus full attention), and no ``beam_indices`` bookkeeping is needed.

Tokens are merged into words as the tokenizer writes them: GPT-2 byte-level
tokens that begin with whitespace ("Ġ") start a word, BERT pieces that begin
with "##" continue one; punctuation is a word of its own; special tokens
belong to no word (index -1) and, as in ``decode(skip_special_tokens=True)``,
do not split the word around them.
"""

from dataclasses import dataclass

import numpy as np
import torch

from ..devices import pinned_for, to_device
from .models import ALONE, BLANK, CAPTIONERS, CONTINUE

# Both captioners start the decoder from one token: GPT-2's decoder_start
# (<|endoftext|>) or BLIP's [DEC] bos. Generated tokens follow it.
PREFIX_LENGTH = 1


@dataclass
class CaptionWords:
    """One image's caption, its generated tokens, words and per-word attention maps."""

    caption: str
    token_ids: list  # generated ids: start token and padding dropped, end token kept if generated
    tokens: list  # the tokenizer's strings for token_ids
    words: list
    token_to_word: list  # word index per token, -1 for special and bare-whitespace tokens
    maps: np.ndarray  # (n_words, grid_h, grid_w) float32


def caption_pixels_with_word_maps(captioner, pixel_values, max_new_tokens, num_beams, layers, heads="mean"):
    """Caption a batch of ``prepare``d pixel values; per image a ``CaptionWords``.

    ``layers``: "all" or a list of decoder layer indices; ``heads``: "mean"
    (all heads) or a list of head indices. Maps are averaged over the chosen
    heads and layers, then over each word's tokens.
    """
    with torch.inference_mode():
        encoder_states = encode(captioner, to_device(pixel_values, captioner.device))
        sequences = generate(captioner, encoder_states, max_new_tokens, num_beams)
        cross_attentions = teacher_forced_cross_attentions(captioner, encoder_states, sequences)
    token_maps = token_attention_maps(cross_attentions, captioner.grid, layers, heads)
    return [
        describe_sequence(captioner, sequence, maps)
        for sequence, maps in zip(sequences.tolist(), token_maps, strict=True)
    ]


def caption_texts(captioner, images, max_new_tokens, num_beams):
    """Captions only, without maps (what evaluation compares on protected photos)."""
    pixel_values = preprocess(captioner, images)
    with torch.inference_mode():
        sequences = generate(captioner, encode(captioner, pixel_values), max_new_tokens, num_beams)
    end_ids = end_token_ids(captioner)
    return [decode_caption(captioner, generated_tokens(sequence, end_ids)) for sequence in sequences.tolist()]


def decode_caption(captioner, token_ids):
    return captioner.tokenizer.decode(token_ids, skip_special_tokens=True).strip()


def prepare(captioner, images):
    """The image processor's pixel values of a batch, on the CPU (pinned for a CUDA captioner).
    Never touches the model: a stage runs it in its prefetch workers."""
    batch = captioner.image_processor(images=list(images), return_tensors="pt")
    return pinned_for(batch["pixel_values"], captioner.device)


def preprocess(captioner, images):
    """``prepare``, then on the captioner's device."""
    return to_device(prepare(captioner, images), captioner.device)


def encode(captioner, pixel_values):
    """Encoder states (batch, 1 + grid_h * grid_w, hidden), CLS first."""
    states = captioner.architecture.encode(captioner.model, pixel_values)
    expected = 1 + captioner.grid[0] * captioner.grid[1]
    if states.shape[1] != expected:
        raise ValueError(f"encoder gave {states.shape[1]} positions, expected CLS + {captioner.grid} patches")
    return states


def generate(captioner, encoder_states, max_new_tokens, num_beams):
    """Generated sequences (batch, length): the start token, the caption, end and padding."""
    options = {"max_new_tokens": max_new_tokens, "num_beams": num_beams, "do_sample": False}
    return captioner.architecture.generate(captioner.model, encoder_states, options)


def teacher_forced_cross_attentions(captioner, encoder_states, sequences):
    """Per decoder layer (batch, heads, length - 1, encoder positions), one pass over ``sequences``.

    The last token is no input: nothing is predicted from it.
    """
    return captioner.architecture.cross_attentions(captioner.model, encoder_states, sequences[:, :-1])


def token_attention_maps(cross_attentions, grid, layers="all", heads="mean"):
    """(batch, queries, grid_h, grid_w) float32: chosen layers and heads averaged, CLS dropped."""
    chosen_layers = pick_indices(layers, len(cross_attentions), "all", "layer")
    stacked = torch.stack([cross_attentions[index] for index in chosen_layers])  # (L, B, H, Q, E)
    chosen_heads = pick_indices(heads, stacked.shape[2], "mean", "head")
    mean = stacked[:, :, chosen_heads].float().mean(dim=(0, 2))  # (B, Q, E)
    patches = mean[..., 1:]
    return patches.reshape(*patches.shape[:2], *grid).cpu().numpy().astype(np.float32)


def pick_indices(selection, count, everything, what):
    if isinstance(selection, str):
        if selection != everything:
            raise ValueError(f"{what}s must be '{everything}' or a list of {what} indices, not '{selection}'")
        return list(range(count))
    indices = [int(index) for index in selection]
    if not indices or any(not -count <= index < count for index in indices):
        raise ValueError(f"{what} indices {indices} outside the model's {count} {what}s")
    return [index % count for index in indices]


def describe_sequence(captioner, sequence, query_maps):
    """Caption, tokens, words and word maps of one generated sequence."""
    tokenizer = captioner.tokenizer
    token_ids = generated_tokens(sequence, end_token_ids(captioner))
    words, token_to_word = group_words(tokenizer, captioner.kind, token_ids)
    # Token k of the caption sits at sequence position PREFIX_LENGTH + k; query one before predicted it.
    token_maps = query_maps[PREFIX_LENGTH - 1 : PREFIX_LENGTH - 1 + len(token_ids)]
    return CaptionWords(
        caption=decode_caption(captioner, token_ids),
        token_ids=token_ids,
        tokens=tokenizer.convert_ids_to_tokens(token_ids),
        words=words,
        token_to_word=token_to_word,
        maps=word_maps(token_maps, token_to_word, len(words)),
    )


def end_token_ids(captioner):
    return captioner.architecture.end_token_ids(captioner.model)


def generated_tokens(sequence, end_ids):
    """Tokens after the start token, through the first end token; later ones are padding."""
    tokens = list(sequence[PREFIX_LENGTH:])
    for index, token_id in enumerate(tokens):
        if token_id in end_ids:
            return tokens[: index + 1]
    return tokens


def word_maps(token_maps, token_to_word, n_words):
    """Mean of each word's token maps: (n_words, grid_h, grid_w) float32."""
    maps = np.zeros((n_words, *token_maps.shape[1:]), dtype=np.float32)
    for word in range(n_words):
        members = [index for index, owner in enumerate(token_to_word) if owner == word]
        maps[word] = token_maps[members].mean(axis=0)
    return maps


# ---------------------------------------------------------------- tokens -> words


def group_words(tokenizer, kind, token_ids):
    """Words of a token sequence and the word index of each token (-1: in no word)."""
    architecture = CAPTIONERS[kind]()
    special = set(tokenizer.all_special_ids)
    groups, token_to_word = [], []
    open_word = None
    for token_id in token_ids:
        if token_id in special:
            token_to_word.append(-1)
            continue
        role = architecture.token_role(tokenizer, token_id)
        if role == BLANK:
            token_to_word.append(-1)
            open_word = None
            continue
        if role != CONTINUE or open_word is None:
            groups.append([])
            open_word = len(groups) - 1
        groups[open_word].append(token_id)
        token_to_word.append(open_word)
        if role == ALONE:
            open_word = None
    words = [tokenizer.decode(ids, skip_special_tokens=True, clean_up_tokenization_spaces=False).strip()
             for ids in groups]
    return words, token_to_word
