"""Random captioners of the real classes (``caption.models``' kinds), with tiny tokenizers.

Each kind's builder is registered in ``RANDOM_CAPTIONERS`` under its ``CAPTIONERS`` name; the
``captioner_<name>`` model family builds it with ``build_random_captioner``.
"""

from pathlib import Path

import torch

from ...registry import Registry
from .vocab import (
    GPT2_END,
    filler_tokens,
    gpt2_vocab_and_merges,
    save_gpt2_tokenizer,
    save_wordpiece_tokenizer,
    wordpiece_vocab,
)

GPT2_FULL_VOCAB = 50257  # gpt2's vocabulary, <|endoftext|> last
BLIP_FULL_VOCAB = 30524  # bert-base-uncased's 30522 + [DEC] + [ENC]
# The tiny BLIP's words and pieces: "per ##son", "bi ##cycle", "sit ##ting", as the tiny GPT-2's.
BERT_WORDS = ("a", "photo", "of", "the", "man", "woman", "dog", "on", "in", "street", "with", "per", "bi", "sit")
BERT_PIECES = ("##son", "##cycle", "##ting", "##s")
BERT_PUNCTUATION = tuple(".,'!?")
BERT_DECODER_TOKENS = ("[DEC]", "[ENC]")  # appended after the vocabulary, as BLIP adds them

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)

# Tiny models: weights drawn at a larger scale than the default so attention is
# peaked and its maps differ between words and between images.
TINY_INIT_STD = 0.4
TINY_PUNCTUATION = (".", ",")
TINY = {"hidden": 32, "layers": 2, "heads": 2, "ffn": 64, "image_size": 64, "patch_size": 16, "positions": 64}

# caption.model -> (model_dir, size, image_size) -> an unsaved random model; its tokenizer and
# image processor are saved in model_dir.
RANDOM_CAPTIONERS = Registry("random captioner", "caption.model")


def build_random_captioner(model_dir, size="tiny", seed=0, kind="vit_gpt2", image_size=None):
    """Save a randomly initialised captioner of the real classes to ``model_dir``.

    ``full`` has the pretrained default's architecture and vocabulary size
    (for timing); ``tiny`` has hidden size 32, two layers and a 64 px input
    (a 4 x 4 patch grid). ``image_size`` overrides the input size (multiple
    of the 16 px patch), which changes the patch grid.
    """
    build = RANDOM_CAPTIONERS[kind]
    if size not in ("tiny", "full"):
        raise ValueError(f"unknown random captioner size '{size}' (expected 'tiny' or 'full')")
    model_dir = Path(model_dir)
    model_dir.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    model = build(model_dir, size, image_size)
    model.eval().save_pretrained(str(model_dir), safe_serialization=True)
    return model


@RANDOM_CAPTIONERS.register("blip")
def random_blip(model_dir, size, image_size):
    from transformers import (
        BlipConfig,
        BlipForConditionalGeneration,
        BlipImageProcessor,
        BlipTextConfig,
        BlipVisionConfig,
    )

    tokenizer = save_wordpiece_tokenizer(model_dir, blip_vocab(BLIP_FULL_VOCAB if size == "full" else None),
                                         bos_token="[DEC]", additional_special_tokens=["[ENC]"])
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
        favour_tokens(model.get_input_embeddings(), tokenizer, BERT_WORDS + BERT_PIECES + TINY_PUNCTUATION)
    size_px = {"height": image_size, "width": image_size}
    BlipImageProcessor(size=size_px, image_mean=list(CLIP_MEAN), image_std=list(CLIP_STD)).save_pretrained(
        str(model_dir))
    return model


@RANDOM_CAPTIONERS.register("vit_gpt2")
def random_vit_gpt2(model_dir, size, image_size):
    from transformers import (
        GPT2Config,
        VisionEncoderDecoderConfig,
        VisionEncoderDecoderModel,
        ViTConfig,
        ViTImageProcessor,
    )

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
        favour_tokens(model.decoder.get_input_embeddings(), tokenizer, gpt2_word_tokens())
    model.generation_config.update(decoder_start_token_id=end_id, pad_token_id=end_id, eos_token_id=end_id,
                                   bos_token_id=end_id)
    size_px = {"height": image_size, "width": image_size}
    ViTImageProcessor(size=size_px, image_mean=[0.5] * 3, image_std=[0.5] * 3).save_pretrained(str(model_dir))
    return model


def blip_vocab(vocab_size=None):
    """BLIP's WordPiece tokens in id order (``wordpiece_vocab`` of the tiny words), padded to
    ``vocab_size`` with letter strings, [DEC] [ENC] last."""
    tokens = wordpiece_vocab(BERT_PUNCTUATION, BERT_WORDS + BERT_PIECES)
    if vocab_size is not None:
        missing = vocab_size - len(BERT_DECODER_TOKENS) - len(tokens)
        tokens += filler_tokens(set(tokens), missing, continuation="##", word_start="")
    return tokens + list(BERT_DECODER_TOKENS)


def gpt2_word_tokens():
    """What the merges build (words, pieces and their prefixes), plus punctuation."""
    _, merges = gpt2_vocab_and_merges()
    return tuple(left + right for left, right in merges) + TINY_PUNCTUATION


def favour_tokens(embedding, tokenizer, tokens, others_scale=0.1):
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
