"""Captioners with cross-attention: loading local folders (random ones: ``models.offline.captioners``).

Two kinds, each a ``CaptionerKind`` declared in ``captioners.CAPTIONERS`` under the name
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
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

import torch

from ..artifacts import read_json
from ..devices import pick_device
from ..models.families import verify_model
from ..models.store import model_summary
from .captioners import CAPTIONERS


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


# ---------------------------------------------------------------- the kinds of captioner


# How a token relates to the word before it (CaptionerKind.token_role).
START, CONTINUE, ALONE, BLANK = "start", "continue", "alone", "blank"


class CaptionerKind:
    """What one captioner architecture does its own way. Adding a captioner is a subclass,
    declared in ``captioners.CAPTIONERS`` with its model family (``models.families``), and
    the pinned weights of that family in config.yaml's ``models``.

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


def encoder_mask(encoder_states):
    return torch.ones(encoder_states.shape[:-1], dtype=torch.long, device=encoder_states.device)


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


def is_punctuation(text):
    return all(unicodedata.category(character).startswith("P") for character in text)
