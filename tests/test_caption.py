"""Captioners (ViT-GPT2, BLIP) on tiny random models: word maps against direct computations."""

import threading

import numpy as np
import pytest
import torch
from test_detect_stage import output_bytes, small_photo_items

from photoprivacy.artifacts import provenance, write_json, write_npz
from photoprivacy.caption.models import (
    load_captioner,
    patch_grid,
)
from photoprivacy.caption.stage import caption_record, run_caption_shard
from photoprivacy.caption.word_attention import (
    caption_pixels_with_word_maps,
    group_words,
    prepare,
    preprocess,
)
from photoprivacy.errors import ModelNotAvailable
from photoprivacy.images import decode_batch
from photoprivacy.models.families import MODEL_FAMILIES
from photoprivacy.models.offline.captioners import build_random_captioner
from photoprivacy.models.store import write_manifest
from photoprivacy.pipeline import batches
from photoprivacy.stages import STAGE_VERSIONS

from conftest import MAX_PIXELS, gradient_image

KINDS = ("vit_gpt2", "blip")
# Seeds whose tiny models write captions that mix whole words and words split into pieces.
SEEDS = {"vit_gpt2": 2, "blip": 0}
MAX_NEW_TOKENS = 8
IMAGES = [gradient_image(120, 160, seed=0), gradient_image(90, 70, seed=1)]


def caption_with_word_maps(captioner, images, max_new_tokens, num_beams, layers, heads="mean"):
    """Per uint8 RGB image a ``CaptionWords``: what the caption stage computes for a batch."""
    return caption_pixels_with_word_maps(captioner, prepare(captioner, images), max_new_tokens, num_beams, layers,
                                         heads)


def build_tiny(model_dir, kind, **options):
    build_random_captioner(model_dir, size="tiny", seed=SEEDS[kind], kind=kind, **options)
    write_manifest(model_dir, "offline", f"random-{kind}-tiny", f"seed-{SEEDS[kind]}")
    return model_dir


@pytest.fixture(scope="module")
def model_dirs(tmp_path_factory):
    root = tmp_path_factory.mktemp("captioners")
    return {kind: build_tiny(root / kind, kind) for kind in KINDS}


@pytest.fixture(scope="module")
def captioners(model_dirs):
    return {kind: load_captioner(model_dirs[kind], kind, "cpu") for kind in KINDS}


@pytest.fixture(scope="module")
def greedy_results(captioners):
    return {kind: caption_with_word_maps(captioners[kind], IMAGES, MAX_NEW_TOKENS, 1, "all") for kind in KINDS}


def patch_maps(query_attention, grid):
    """(layers, heads, encoder positions) of one query -> (grid_h, grid_w): mean, CLS dropped."""
    return query_attention.float().mean(dim=(0, 1))[1:].reshape(grid).numpy()


def expected_word_maps(result, token_maps):
    """Mean of ``token_maps[k]`` over the tokens k of each word."""
    return np.stack([
        np.mean([token_maps[k] for k, word in enumerate(result.token_to_word) if word == index], axis=0)
        for index in range(len(result.words))
    ])


def select(cross_attentions, layers, heads):
    """Stack chosen layers: (layers, batch, heads, queries, encoder positions)."""
    layer_ids = range(len(cross_attentions)) if layers == "all" else layers
    stacked = torch.stack([cross_attentions[index] for index in layer_ids])
    return stacked if heads == "mean" else stacked[:, :, heads]


def assert_tokens_match(result, sequence):
    """The library's tokens are the sequence after its start token, up to the end token."""
    n_tokens = len(result.token_ids)
    assert sequence[1 : 1 + n_tokens].tolist() == result.token_ids
    assert n_tokens > 0


def teacher_forced_maps(kind, model, pixel_values, sequences, grid):
    """Per image (queries, grid_h, grid_w): a decoder pass over ``sequences``, head and layer mean."""
    if kind == "vit_gpt2":
        cross = model(pixel_values=pixel_values, decoder_input_ids=sequences, output_attentions=True).cross_attentions
    else:
        image_states = model.vision_model(pixel_values=pixel_values).last_hidden_state
        cross = model.text_decoder(
            input_ids=sequences, encoder_hidden_states=image_states, output_attentions=True
        ).cross_attentions
    stacked = select(cross, "all", "mean")
    return [
        np.stack([patch_maps(stacked[:, image, :, query], grid) for query in range(sequences.shape[1])])
        for image in range(sequences.shape[0])
    ]


@pytest.mark.parametrize(("layers", "heads"), [("all", "mean"), ([1], [0]), ([0, -1], [1])])
def test_vit_gpt2_word_maps_are_the_attention_of_the_generating_steps(captioners, layers, heads):
    captioner = captioners["vit_gpt2"]
    results = caption_with_word_maps(captioner, IMAGES, MAX_NEW_TOKENS, 1, layers, heads=heads)
    with torch.inference_mode():
        outputs = captioner.model.generate(
            pixel_values=preprocess(captioner, IMAGES), max_new_tokens=MAX_NEW_TOKENS,
            output_attentions=True, return_dict_in_generate=True,
        )
    for image, result in enumerate(results):
        assert_tokens_match(result, outputs.sequences[image])
        # Step k (one query each) produced generated token k.
        step_maps = [
            patch_maps(select(step, layers, heads)[:, image, :, -1], captioner.grid)
            for step in outputs.cross_attentions[: len(result.token_ids)]
        ]
        np.testing.assert_allclose(result.maps, expected_word_maps(result, step_maps), rtol=1e-4, atol=1e-6)


def test_blip_word_maps_are_the_attention_of_a_teacher_forced_decoder(captioners):
    captioner = captioners["blip"]
    results = caption_with_word_maps(captioner, IMAGES, MAX_NEW_TOKENS, 1, "all")
    pixel_values = preprocess(captioner, IMAGES)
    with torch.inference_mode():
        sequences = captioner.model.generate(pixel_values=pixel_values, max_new_tokens=MAX_NEW_TOKENS)
        query_maps = teacher_forced_maps("blip", captioner.model, pixel_values, sequences, captioner.grid)
    assert (sequences[:, 0] == captioner.decoder_config.bos_token_id).all()  # [DEC] starts every caption
    for image, result in enumerate(results):
        assert_tokens_match(result, sequences[image])
        # Query position k (the [DEC] token for k = 0) predicted generated token k.
        np.testing.assert_allclose(result.maps, expected_word_maps(result, query_maps[image]), rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("kind", KINDS)
def test_maps_follow_the_encoder_patch_grid(kind, captioners, greedy_results, tmp_path):
    assert captioners[kind].grid == (4, 4)  # 64 px, 16 px patches
    for result in greedy_results[kind]:
        assert result.maps.shape == (len(result.words), 4, 4) and result.maps.dtype == np.float32
        # Patch attention of a query sums to at most 1 (CLS took the rest).
        assert (result.maps >= 0).all() and (result.maps.sum(axis=(1, 2)) <= 1 + 1e-5).all()
    larger = load_captioner(build_tiny(tmp_path / kind, kind, image_size=96), kind, "cpu")
    assert larger.grid == (6, 6)
    for result in caption_with_word_maps(larger, IMAGES[:1], 3, 1, "all"):
        assert result.maps.shape == (len(result.words), 6, 6)


def test_pretrained_grids():
    from transformers import BlipVisionConfig, ViTConfig

    assert patch_grid(ViTConfig(image_size=224, patch_size=16)) == (14, 14)
    assert patch_grid(BlipVisionConfig(image_size=384, patch_size=16)) == (24, 24)


@pytest.mark.parametrize(
    ("kind", "split_word_tokens"),
    [("vit_gpt2", ["Ġper", "son", "Ġbi", "cycle"]), ("blip", ["per", "##son", "bi", "##cycle"])],
)
def test_sub_word_tokens_merge_into_words(kind, split_word_tokens, captioners):
    tokenizer = captioners[kind].tokenizer
    ids = tokenizer("a photo of a person on a bicycle.", add_special_tokens=False)["input_ids"]
    tokens = tokenizer.convert_ids_to_tokens(ids)
    assert all(token in tokens for token in split_word_tokens)
    words, token_to_word = group_words(tokenizer, kind, ids)
    assert words == ["a", "photo", "of", "a", "person", "on", "a", "bicycle", "."]
    assert token_to_word == [0, 1, 2, 3, 4, 4, 5, 6, 7, 7, 8]


def test_special_and_blank_tokens_belong_to_no_word(captioners):
    bert = captioners["blip"].tokenizer
    ids = bert.convert_tokens_to_ids(["[DEC]", "dog", "[UNK]", "##s", "on", "[SEP]"])
    # As decode(skip_special_tokens=True): "dog [UNK] ##s" reads "dogs".
    assert group_words(bert, "blip", ids) == (["dogs", "on"], [-1, 0, -1, 0, 1, -1])
    gpt2 = captioners["vit_gpt2"].tokenizer
    ids = gpt2.convert_tokens_to_ids(["Ġdog", "Ġ", "son", ",", "Ġa", "<|endoftext|>"])
    assert group_words(gpt2, "vit_gpt2", ids) == (["dog", "son", ",", "a"], [0, -1, 1, 2, 3, -1])


@pytest.mark.parametrize("kind", KINDS)
def test_generated_words_cover_the_caption(kind, captioners, greedy_results):
    tokenizer = captioners[kind].tokenizer
    special = set(tokenizer.all_special_ids)
    split_words = 0
    for result in greedy_results[kind]:
        assert len(result.tokens) == len(result.token_ids) == len(result.token_to_word)
        assert "".join(result.words) == "".join(result.caption.split())
        for index, word in enumerate(result.words):
            members = [t for t, w in zip(result.token_ids, result.token_to_word, strict=True) if w == index]
            assert tokenizer.decode(members).strip() == word
            split_words += len(members) > 1
        owners = [w for w in result.token_to_word if w >= 0]
        assert owners == sorted(owners)  # words are runs of consecutive tokens
        assert all((w == -1) == (t in special) for t, w in zip(result.token_ids, result.token_to_word, strict=True))
    assert split_words > 0, "no word of several tokens: pick another seed for this check"


@pytest.mark.parametrize("kind", KINDS)
def test_beam_search_maps_are_those_of_the_returned_sequence(kind, captioners, greedy_results):
    captioner = captioners[kind]
    results = caption_with_word_maps(captioner, IMAGES, MAX_NEW_TOKENS, 3, "all")
    pixel_values = preprocess(captioner, IMAGES)
    with torch.inference_mode():
        sequences = captioner.model.generate(pixel_values=pixel_values, max_new_tokens=MAX_NEW_TOKENS, num_beams=3)
        query_maps = teacher_forced_maps(kind, captioner.model, pixel_values, sequences, captioner.grid)
    pairs = zip(results, greedy_results[kind], strict=True)
    assert any(r.token_ids != g.token_ids for r, g in pairs), "beams equal greedy"
    for image, result in enumerate(results):
        assert_tokens_match(result, sequences[image])
        np.testing.assert_allclose(result.maps, expected_word_maps(result, query_maps[image]), rtol=1e-4, atol=1e-6)


def test_beam_search_step_attentions_agree_with_teacher_forcing(captioners):
    """generate's own cross-attentions, picked by beam_indices, give the same maps."""
    captioner = captioners["vit_gpt2"]
    results = caption_with_word_maps(captioner, IMAGES, MAX_NEW_TOKENS, 3, "all")
    with torch.inference_mode():
        outputs = captioner.model.generate(
            pixel_values=preprocess(captioner, IMAGES), max_new_tokens=MAX_NEW_TOKENS, num_beams=3,
            output_attentions=True, return_dict_in_generate=True,
        )
    for image, result in enumerate(results):
        assert_tokens_match(result, outputs.sequences[image])
        rows = outputs.beam_indices[image]  # row of batch x beams that chose step k's token
        step_maps = [
            patch_maps(select(outputs.cross_attentions[k], "all", "mean")[:, int(rows[k]), :, -1], captioner.grid)
            for k in range(len(result.token_ids))
        ]
        np.testing.assert_allclose(result.maps, expected_word_maps(result, step_maps), rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("kind", KINDS)
def test_a_batch_equals_images_one_at_a_time(kind, captioners, greedy_results):
    for image, batched in zip(IMAGES, greedy_results[kind], strict=True):
        (alone,) = caption_with_word_maps(captioners[kind], [image], MAX_NEW_TOKENS, 1, "all")
        assert (alone.caption, alone.token_ids, alone.words, alone.token_to_word) == (
            batched.caption, batched.token_ids, batched.words, batched.token_to_word
        )
        np.testing.assert_allclose(alone.maps, batched.maps, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("kind", KINDS)
def test_folder_loads_offline_with_eager_attention(kind, model_dirs, monkeypatch):
    from transformers import BlipForConditionalGeneration, VisionEncoderDecoderModel

    model_class = VisionEncoderDecoderModel if kind == "vit_gpt2" else BlipForConditionalGeneration
    calls = []
    original = model_class.from_pretrained.__func__

    def recording(cls, *args, **kwargs):
        calls.append(kwargs)
        return original(cls, *args, **kwargs)

    monkeypatch.setattr(model_class, "from_pretrained", classmethod(recording))
    captioner = load_captioner(model_dirs[kind], kind, "cpu")
    assert calls == [{"local_files_only": True, "use_safetensors": True, "attn_implementation": "eager"}]
    assert captioner.model.config._attn_implementation == "eager"
    assert captioner.decoder_config._attn_implementation == "eager"
    assert captioner.encoder_config._attn_implementation == "eager"
    assert all((model_dirs[kind] / name).is_file() for name in MODEL_FAMILIES[f"captioner_{kind}"].required_files)
    assert captioner.model_info == {"source": "offline", "id": f"random-{kind}-tiny", "revision": f"seed-{SEEDS[kind]}"}


def test_loading_checks_the_manifest_and_the_kind(model_dirs, tmp_path):
    with pytest.raises(ModelNotAvailable):
        load_captioner(tmp_path, "blip", "cpu")
    with pytest.raises(ModelNotAvailable, match="holds no captioner_blip model: it lacks vocab.txt"):
        load_captioner(model_dirs["vit_gpt2"], "blip", "cpu")
    unknown = r"unknown captioner 'git' \(config key caption.model: one of blip, vit_gpt2\)"
    with pytest.raises(ValueError, match=unknown):
        load_captioner(model_dirs["blip"], "git", "cpu")


# ---------------------------------------------------------------- the caption stage

STAGE_PARAMS = {"max_new_tokens": MAX_NEW_TOKENS, "num_beams": 1, "layers": "all"}


def caption_on_this_thread(items, captioner, params, batch_size):
    """The artifacts as the stage wrote them before it prepared batches ahead: one call per batch in the loop."""
    prov = provenance("caption", STAGE_VERSIONS["caption"], params, captioner.model_info)
    for batch in batches(items, batch_size):
        decoded, _ = decode_batch(batch, MAX_PIXELS)
        results = caption_with_word_maps(captioner, [image for _, image in decoded], params["max_new_tokens"],
                                         params["num_beams"], params["layers"])
        for (item, _), result in zip(decoded, results, strict=True):
            write_json(item["json"], caption_record(item["id"], prov, result, captioner.grid))
            write_npz(item["npz"], maps=np.asarray(result.maps, np.float32).reshape(-1, *captioner.grid))


@pytest.mark.parametrize("kind", KINDS)
def test_prepared_in_the_workers_the_stage_writes_what_one_call_gives(kind, captioners, shared_photos, tmp_path):
    staged = small_photo_items(shared_photos, tmp_path / "staged")
    direct = small_photo_items(shared_photos, tmp_path / "direct")
    stats = run_caption_shard(staged, captioners[kind], STAGE_PARAMS, batch_size=3, max_pixels=MAX_PIXELS)
    caption_on_this_thread(direct, captioners[kind], STAGE_PARAMS, batch_size=3)
    assert stats["images"] == len(shared_photos)
    assert output_bytes(staged) == output_bytes(direct)


class RecordingProcessor:
    """An image processor that notes the thread each call runs on."""

    def __init__(self, processor):
        self.processor = processor
        self.threads = []

    def __call__(self, *args, **kwargs):
        self.threads.append(threading.current_thread().name)
        return self.processor(*args, **kwargs)


def test_image_processor_runs_in_the_prefetch_workers(captioners, shared_photos, tmp_path, monkeypatch):
    captioner = captioners["blip"]
    processor = RecordingProcessor(captioner.image_processor)
    monkeypatch.setattr(captioner, "image_processor", processor)
    run_caption_shard(small_photo_items(shared_photos, tmp_path), captioner, STAGE_PARAMS, batch_size=2,
                      max_pixels=MAX_PIXELS)
    assert len(processor.threads) == len(batches(shared_photos, 2))
    assert all(name.startswith("prefetch") for name in processor.threads), processor.threads
