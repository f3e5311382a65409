"""Captioners with cross-attention: loading local folders and building random ones.

Two kinds, each a ``CaptionerKind`` registered in ``CAPTIONERS`` under the name
config key caption.model takes:

``vit_gpt2``
    ``VisionEncoderDecoderModel``: ViT encoder, GPT-2 decoder with
    cross-attention, ``ViTImageProcessor``, byte-level BPE GPT-2 tokenizer
    (pretrained default nlpconnect/vit-gpt2-image-captioning: 224 px, 16 px
    patches, a 14 x 14 grid plus CLS).
``blip``
    ``BlipForConditionalGeneration``: ViT vision model, BERT-style text
    decoder with cross-attention, ``BlipImageProcessor``, WordPiece tokenizer
    with ``[DEC]`` as bos (pretrained default
    Salesforce/blip-image-captioning-base: 384 px, 16 px patches, 24 x 24 + CLS).

Folders load with ``from_pretrained(local_files_only=True,
use_safetensors=True, attn_implementation="eager")``: eager attention is
the implementation that returns attention weights.
"""

import functools
import itertools
import json
import string
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

import torch

from ..artifacts import read_json
from ..devices import pick_device
from ..models.families import verify_model
from ..models.store import model_summary
from ..registry import Registry

GPT2_END = "<|endoftext|>"
GPT2_FULL_VOCAB = 50257  # gpt2's vocabulary, <|endoftext|> last
# Byte-level words the tiny tokenizer keeps whole ("Ġ" is the space before a word) ...
GPT2_WHOLE_WORDS = (
    "Ġa", "Ġphoto", "Ġof", "Ġthe", "Ġman", "Ġwoman", "Ġdog", "Ġon", "Ġin", "Ġstreet", "Ġwith",
)
# ... and pieces, so " person" -> "Ġper" "son", " bicycle" -> "Ġbi" "cycle", " sitting" -> "Ġsit" "ting".
GPT2_PIECES = ("Ġper", "son", "Ġbi", "cycle", "Ġsit", "ting")

BERT_SPECIALS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
BERT_DECODER_TOKENS = ("[DEC]", "[ENC]")  # appended after the vocabulary, as BLIP adds them
BLIP_FULL_VOCAB = 30524  # bert-base-uncased's 30522 + [DEC] + [ENC]
BERT_WORDS = ("a", "photo", "of", "the", "man", "woman", "dog", "on", "in", "street", "with", "per", "bi", "sit")
BERT_PIECES = ("##son", "##cycle", "##ting", "##s")
BERT_PUNCTUATION = tuple(".,'!?")

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)

# Tiny models: weights drawn at a larger scale than the default so attention is
# peaked and its maps differ between words and between images.
TINY_INIT_STD = 0.4
TINY_PUNCTUATION = (".", ",")
TINY = {"hidden": 32, "layers": 2, "heads": 2, "ffn": 64, "image_size": 64, "patch_size": 16, "positions": 64}


CAPTIONERS = Registry("captioner", "caption.model")


@dataclass
class Captioner:
    """A loaded captioner: model, image processor, tokenizer; ``grid`` is the encoder's patch grid."""

    kind: str
    model: object
    image_processor: object
    tokenizer: object
    device: torch.device
    model_info: dict = field(default_factory=dict)

    @functools.cached_property
    def architecture(self):
        """What this kind of captioner does its own way (a registered ``CaptionerKind``)."""
        return CAPTIONERS[self.kind]()

    @property
    def grid(self):
        """(h, w) of the encoder's patches; encoder position 0 is CLS, the patches follow row by row."""
        return patch_grid(self.encoder_config)

    @property
    def decoder_config(self):
        return self.architecture.decoder_config(self.model.config)

    @property
    def encoder_config(self):
        return self.architecture.encoder_config(self.model.config)


def patch_grid(encoder_config):
    """(h, w) patch grid of a ViT-style encoder config."""
    height, width = _pair(encoder_config.image_size)
    patch_h, patch_w = _pair(encoder_config.patch_size)
    return height // patch_h, width // patch_w


def _pair(value):
    return tuple(value) if isinstance(value, (list, tuple)) else (value, value)


def load_captioner(model_dir, kind, device):
    """Load a local captioner folder (never the network) with eager attention."""
    architecture = CAPTIONERS[kind]()
    manifest = verify_model(f"captioner_{kind}", model_dir)
    model_type = read_json(Path(model_dir) / "config.json").get("model_type")
    if model_type != architecture.model_type:
        raise ValueError(f"{model_dir} holds a '{model_type}' model, not a '{kind}' captioner")
    model_class, image_processor_class, tokenizer_class = architecture.classes()
    local = {"local_files_only": True}
    model = model_class.from_pretrained(str(model_dir), use_safetensors=True, attn_implementation="eager", **local)
    device = pick_device(device)
    model.eval().to(device)
    return Captioner(
        kind=kind,
        model=model,
        image_processor=image_processor_class.from_pretrained(str(model_dir), **local),
        tokenizer=tokenizer_class.from_pretrained(str(model_dir), **local),
        device=device,
        model_info=model_summary(manifest),
    )


def build_random_captioner(model_dir, size="tiny", seed=0, kind="vit_gpt2", image_size=None):
    """Save a randomly initialised captioner of the real classes to ``model_dir``.

    ``full`` has the pretrained default's architecture and vocabulary size
    (for timing); ``tiny`` has hidden size 32, two layers and a 64 px input
    (a 4 x 4 patch grid). ``image_size`` overrides the input size (multiple
    of the 16 px patch), which changes the patch grid.
    """
    architecture = CAPTIONERS[kind]()
    if size not in ("tiny", "full"):
        raise ValueError(f"unknown random captioner size '{size}' (expected 'tiny' or 'full')")
    model_dir = Path(model_dir)
    model_dir.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    model = architecture.build_random(model_dir, size, image_size)
    model.eval().save_pretrained(str(model_dir), safe_serialization=True)
    return model


# ---------------------------------------------------------------- the kinds of captioner


# How a token relates to the word before it (CaptionerKind.token_role).
START, CONTINUE, ALONE, BLANK = "start", "continue", "alone", "blank"


class CaptionerKind:
    """What one captioner architecture does its own way. Adding a captioner is a subclass
    registered with ``@CAPTIONERS.register(name)``, a ``captioner_<name>`` model family
    (``models.families``) and the name in the schema's enum of caption.model.

    Every kind decodes from one start token (``word_attention.PREFIX_LENGTH``) and
    exposes ViT-style encoder states, CLS first, then the patches row by row.
    """

    model_type = None  # config.json's model_type

    def classes(self):
        """(model class, image processor class, tokenizer class) of ``transformers``."""
        raise NotImplementedError

    def encoder_config(self, config):
        raise NotImplementedError

    def decoder_config(self, config):
        raise NotImplementedError

    def encode(self, model, pixel_values):
        """Encoder states (batch, 1 + grid cells, hidden)."""
        raise NotImplementedError

    def generate(self, model, encoder_states, options):
        """Sequences (batch, length) from ``encoder_states``: start token, caption, end, padding."""
        raise NotImplementedError

    def cross_attentions(self, model, encoder_states, decoder_inputs):
        """Per decoder layer (batch, heads, queries, encoder positions), one teacher-forced pass."""
        raise NotImplementedError

    def end_token_ids(self, model):
        raise NotImplementedError

    def token_role(self, tokenizer, token_id):
        """START, CONTINUE, ALONE (a word of its own) or BLANK (in no word)."""
        raise NotImplementedError

    def build_random(self, model_dir, size, image_size):
        """A random model of the real classes (tokenizer and image processor saved in ``model_dir``)."""
        raise NotImplementedError


def encoder_mask(encoder_states):
    return torch.ones(encoder_states.shape[:-1], dtype=torch.long, device=encoder_states.device)


@CAPTIONERS.register("blip")
class Blip(CaptionerKind):
    model_type = "blip"

    def classes(self):
        from transformers import BertTokenizer, BlipForConditionalGeneration, BlipImageProcessor

        return BlipForConditionalGeneration, BlipImageProcessor, BertTokenizer

    def encoder_config(self, config):
        return config.vision_config

    def decoder_config(self, config):
        return config.text_config

    def encode(self, model, pixel_values):
        return model.vision_model(pixel_values=pixel_values).last_hidden_state

    def generate(self, model, encoder_states, options):
        # What BlipForConditionalGeneration.generate does after its vision pass.
        text = model.config.text_config
        start = torch.full((encoder_states.shape[0], 1), text.bos_token_id, dtype=torch.long,
                           device=encoder_states.device)
        return model.text_decoder.generate(
            input_ids=start,
            eos_token_id=text.sep_token_id,
            pad_token_id=text.pad_token_id,
            encoder_hidden_states=encoder_states,
            encoder_attention_mask=encoder_mask(encoder_states),
            **options,
        )

    def cross_attentions(self, model, encoder_states, decoder_inputs):
        # BLIP's generate runs its text decoder as a decoder-only model, which returns no cross-attentions.
        return model.text_decoder(
            input_ids=decoder_inputs,
            encoder_hidden_states=encoder_states,
            encoder_attention_mask=encoder_mask(encoder_states),
            output_attentions=True,
            use_cache=False,
        ).cross_attentions

    def end_token_ids(self, model):
        return {model.config.text_config.sep_token_id}

    def token_role(self, tokenizer, token_id):
        # A "##" piece continues even punctuation: decode glues it to whatever precedes it.
        return CONTINUE if tokenizer.convert_ids_to_tokens(token_id).startswith("##") else START

    def build_random(self, model_dir, size, image_size):
        from transformers import (
            BlipConfig,
            BlipForConditionalGeneration,
            BlipImageProcessor,
            BlipTextConfig,
            BlipVisionConfig,
        )

        tokenizer = save_bert_tokenizer(model_dir, BLIP_FULL_VOCAB if size == "full" else None)
        image_size = image_size or (384 if size == "full" else TINY["image_size"])
        # As Salesforce/blip-image-captioning-base: [DEC] is bos (the first decoder
        # input), [SEP] ends a caption (generate passes it as eos), [PAD] pads.
        token_ids = {
            "bos_token_id": tokenizer.convert_tokens_to_ids("[DEC]"),
            "sep_token_id": tokenizer.sep_token_id,
            "eos_token_id": tokenizer.sep_token_id,
            "pad_token_id": tokenizer.pad_token_id,
        }
        if size == "full":
            vision = BlipVisionConfig(image_size=image_size, patch_size=16)
            text = BlipTextConfig(vocab_size=len(tokenizer), num_attention_heads=12, **token_ids)
        else:
            vision = BlipVisionConfig(
                hidden_size=TINY["hidden"], intermediate_size=TINY["ffn"], num_hidden_layers=TINY["layers"],
                num_attention_heads=TINY["heads"], image_size=image_size, patch_size=TINY["patch_size"],
                initializer_range=TINY_INIT_STD,
            )
            text = BlipTextConfig(
                vocab_size=len(tokenizer), hidden_size=TINY["hidden"], intermediate_size=TINY["ffn"],
                num_hidden_layers=TINY["layers"], num_attention_heads=TINY["heads"],
                max_position_embeddings=TINY["positions"], initializer_range=TINY_INIT_STD, **token_ids,
            )
        # The top-level initializer_range is the one BLIP's linear layers are drawn with.
        scale = {} if size == "full" else {"initializer_range": TINY_INIT_STD}
        config = BlipConfig(text_config=text.to_dict(), vision_config=vision.to_dict(), **scale)
        config._attn_implementation = "eager"
        model = BlipForConditionalGeneration(config)
        if size == "tiny":
            _favour_tokens(model.get_input_embeddings(), tokenizer, BERT_WORDS + BERT_PIECES + TINY_PUNCTUATION)
        size_px = {"height": image_size, "width": image_size}
        BlipImageProcessor(size=size_px, image_mean=list(CLIP_MEAN), image_std=list(CLIP_STD)).save_pretrained(
            str(model_dir))
        return model


@CAPTIONERS.register("vit_gpt2")
class VitGpt2(CaptionerKind):
    model_type = "vision-encoder-decoder"

    def classes(self):
        from transformers import GPT2Tokenizer, VisionEncoderDecoderModel, ViTImageProcessor

        return VisionEncoderDecoderModel, ViTImageProcessor, GPT2Tokenizer

    def encoder_config(self, config):
        return config.encoder

    def decoder_config(self, config):
        return config.decoder

    def encode(self, model, pixel_values):
        return model.encoder(pixel_values=pixel_values).last_hidden_state

    def generate(self, model, encoder_states, options):
        from transformers.modeling_outputs import BaseModelOutput

        # A fresh wrapper: generate expands encoder outputs for beams in place.
        return model.generate(encoder_outputs=BaseModelOutput(last_hidden_state=encoder_states), **options)

    def cross_attentions(self, model, encoder_states, decoder_inputs):
        from transformers.modeling_outputs import BaseModelOutput

        return model(
            encoder_outputs=BaseModelOutput(last_hidden_state=encoder_states),
            decoder_input_ids=decoder_inputs,
            output_attentions=True,
            use_cache=False,
        ).cross_attentions

    def end_token_ids(self, model):
        end = model.generation_config.eos_token_id
        return set(end) if isinstance(end, (list, tuple)) else {end}

    def token_role(self, tokenizer, token_id):
        text = tokenizer.decode([token_id], clean_up_tokenization_spaces=False)
        if not text.strip():
            return BLANK
        if is_punctuation(text.strip()):
            return ALONE
        return START if text[0].isspace() else CONTINUE

    def build_random(self, model_dir, size, image_size):
        from transformers import GPT2Config, VisionEncoderDecoderConfig, VisionEncoderDecoderModel, ViTConfig

        tokenizer = save_gpt2_tokenizer(model_dir, GPT2_FULL_VOCAB if size == "full" else None)
        end_id = tokenizer.convert_tokens_to_ids(GPT2_END)
        image_size = image_size or (224 if size == "full" else TINY["image_size"])
        if size == "full":
            encoder = ViTConfig(image_size=image_size, patch_size=16)
            decoder = GPT2Config(vocab_size=len(tokenizer), bos_token_id=end_id, eos_token_id=end_id)
        else:
            encoder = ViTConfig(
                hidden_size=TINY["hidden"], num_hidden_layers=TINY["layers"], num_attention_heads=TINY["heads"],
                intermediate_size=TINY["ffn"], image_size=image_size, patch_size=TINY["patch_size"],
                initializer_range=TINY_INIT_STD,
            )
            decoder = GPT2Config(
                vocab_size=len(tokenizer), n_embd=TINY["hidden"], n_layer=TINY["layers"], n_head=TINY["heads"],
                n_positions=TINY["positions"], initializer_range=TINY_INIT_STD, bos_token_id=end_id,
                eos_token_id=end_id,
            )
        decoder.update({"is_decoder": True, "add_cross_attention": True})
        config = VisionEncoderDecoderConfig.from_encoder_decoder_configs(encoder, decoder)
        # As nlpconnect/vit-gpt2-image-captioning: <|endoftext|> starts, ends and pads captions.
        config.update({"decoder_start_token_id": end_id, "pad_token_id": end_id, "eos_token_id": end_id})
        config._attn_implementation = "eager"
        model = VisionEncoderDecoderModel(config=config)
        if size == "tiny":
            _favour_tokens(model.decoder.get_input_embeddings(), tokenizer, gpt2_word_tokens())
        model.generation_config.update(decoder_start_token_id=end_id, pad_token_id=end_id, eos_token_id=end_id,
                                       bos_token_id=end_id)
        from transformers import ViTImageProcessor

        size_px = {"height": image_size, "width": image_size}
        ViTImageProcessor(size=size_px, image_mean=[0.5] * 3, image_std=[0.5] * 3).save_pretrained(str(model_dir))
        return model


def is_punctuation(text):
    return all(unicodedata.category(character).startswith("P") for character in text)


def _favour_tokens(embedding, tokenizer, tokens, others_scale=0.1):
    """Shrink the (tied) embeddings of all but ``tokens``: their logits stay near zero.

    A tiny random decoder then writes mostly words and word pieces rather
    than single bytes or letters, and rarely ends a caption early, so
    captions have several words, some of them split into several tokens.
    """
    keep = torch.tensor(tokenizer.convert_tokens_to_ids(list(tokens)))
    scale = torch.full((embedding.weight.shape[0], 1), others_scale)
    scale[keep] = 1.0
    with torch.no_grad():
        embedding.weight.mul_(scale)


# ---------------------------------------------------------------- offline tokenizers


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
        for token in _filler_tokens(vocab, vocab_size - 1 - len(vocab), continuation="", word_start="Ġ"):
            vocab[token] = len(vocab)
    vocab[GPT2_END] = len(vocab)
    return vocab, merges


def gpt2_word_tokens():
    """What the merges build (words, pieces and their prefixes), plus punctuation."""
    _, merges = gpt2_vocab_and_merges()
    return tuple(left + right for left, right in merges) + TINY_PUNCTUATION


def bert_vocab(vocab_size=None):
    """WordPiece vocabulary: specials, punctuation, letters, words, ``##`` pieces, [DEC] [ENC] last."""
    letters = tuple(string.ascii_lowercase)
    tokens = BERT_SPECIALS + BERT_PUNCTUATION + letters + tuple("##" + c for c in letters)
    tokens += tuple(w for w in BERT_WORDS if w not in letters) + BERT_PIECES
    vocab = {token: index for index, token in enumerate(dict.fromkeys(tokens))}
    if vocab_size is not None:
        missing = vocab_size - len(BERT_DECODER_TOKENS) - len(vocab)
        for token in _filler_tokens(vocab, missing, continuation="##", word_start=""):
            vocab[token] = len(vocab)
    for token in BERT_DECODER_TOKENS:
        vocab[token] = len(vocab)
    return vocab


def _filler_tokens(vocab, count, continuation, word_start):
    """``count`` new letter strings, alternating word starts and continuations."""
    found = []
    for length in itertools.count(2):
        for letters in itertools.product(string.ascii_lowercase, repeat=length):
            for token in (word_start + "".join(letters), continuation + "".join(letters)):
                if len(found) == count:
                    return found
                if token not in vocab:
                    found.append(token)


def save_gpt2_tokenizer(model_dir, vocab_size=None):
    """Write vocab.json and merges.txt, then the tokenizer's own files; return the tokenizer."""
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


def save_bert_tokenizer(model_dir, vocab_size=None):
    """Write vocab.txt, then the tokenizer's own files; return the tokenizer."""
    from transformers import BertTokenizer

    vocab = bert_vocab(vocab_size)
    (Path(model_dir) / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
    tokenizer = BertTokenizer(vocab=vocab, bos_token="[DEC]", additional_special_tokens=["[ENC]"])
    tokenizer.save_pretrained(str(model_dir))
    return tokenizer
