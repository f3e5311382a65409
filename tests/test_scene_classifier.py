"""Scene classifier folders (ours and timm hub snapshots), classification, fine-tuning."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file
from test_detect_stage import make_items

from photoprivacy.errors import ConfigError
from photoprivacy.images import load_rgb
from photoprivacy.models.offline.scene import (
    TINY_SCENE_LABELS,
    TINY_VIT_ARGS,
    build_random_scene_classifier,
    build_random_vit,
)
from photoprivacy.models.store import write_manifest
from photoprivacy.scene.classifier import (
    classify,
    create_classifier,
    load_scene_classifier,
    save_scene_classifier,
)
from photoprivacy.scene.lrp import transformer_attribution_grids
from photoprivacy.scene.relevance import (
    ORIGINAL_PREPROCESSING,
    ScenePreprocessing,
    patch_grid,
    preprocess_scene,
    relevance_grid,
    relevance_grids,
    scene_preprocessing,
)
from photoprivacy.scene.stage import RELEVANCE_METHODS as RELEVANCE
from photoprivacy.scene.stage import run_scene_shard
from photoprivacy.scene.train import train_scene_classifier

from conftest import MAX_PIXELS, default_config, gradient_image, save_image

CONFIG = default_config()
# Fine-tuning as rule train_scene runs it by default, on the CPU; each test overrides what it is about.
TRAINING = {"batch_size": CONFIG["scene"]["train_batch_size"], "lr": CONFIG["scene"]["train_learning_rate"],
            "seed": CONFIG["seed"], "device": "cpu", "preprocessing": CONFIG["scene"]["preprocessing"],
            "max_pixels": MAX_PIXELS}

CLASS_COLOURS = {"desert": (230, 200, 90), "forest": (20, 140, 40), "sea": (30, 60, 200)}
# A model trained otherwise than the original: non-square input, ImageNet normalisation, bicubic.
CUSTOM_PREPROCESSING = ScenePreprocessing((160, 128), (0.485, 0.456, 0.406), (0.229, 0.224, 0.225), "bicubic")
CUSTOM_VIT_ARGS = {**TINY_VIT_ARGS, "img_size": [160, 128]}


@pytest.fixture(scope="module")
def tiny_classifier_dir(tmp_path_factory):
    model_dir = tmp_path_factory.mktemp("scene") / "classifier-tiny"
    build_random_scene_classifier(model_dir, "tiny", seed=0)
    return model_dir


@pytest.fixture(scope="module")
def pixel_values():
    return preprocess_scene(gradient_image(120, 160, seed=5), ORIGINAL_PREPROCESSING)


@pytest.fixture(scope="module")
def scene_image_folder(tmp_path_factory):
    """Three classes of four 32x32 photos, each class its own colour and stripe direction."""
    root = tmp_path_factory.mktemp("train") / "images"
    rng = np.random.default_rng(0)
    for class_index, (name, colour) in enumerate(CLASS_COLOURS.items()):
        for image_index in range(4):
            image = np.empty((32, 32, 3), dtype=np.uint8)
            image[:] = colour
            stripes = np.arange(32) % 8 < 4
            if class_index == 1:
                image[:, stripes] //= 2
            elif class_index == 2:
                image[stripes, :] //= 2
            noise = rng.integers(-10, 11, size=image.shape)
            image = np.clip(image.astype(np.int16) + noise, 0, 255).astype(np.uint8)
            save_image(root / name / f"{image_index}.png", image)
    (root / "forest" / "broken.jpg").write_bytes(b"not a jpeg at all")
    (root / "forest" / "notes.txt").write_text("not an image, not counted")
    return root


def logits_of(model, pixel_values):
    with torch.inference_mode():
        return model(pixel_values)


def tiny_timm_model(num_classes, seed=1, model_args=TINY_VIT_ARGS):
    torch.manual_seed(seed)
    return create_classifier("vit_base_patch16_224", num_classes, model_args).eval()


@pytest.fixture(scope="module")
def custom_classifier_dir(tmp_path_factory):
    """A tiny ViT saved with CUSTOM_PREPROCESSING through the project's own save function."""
    model_dir = tmp_path_factory.mktemp("scene") / "classifier-custom"
    save_scene_classifier(tiny_timm_model(3, model_args=CUSTOM_VIT_ARGS), model_dir, "vit_base_patch16_224",
                          ["a", "b", "c"], CUSTOM_VIT_ARGS, CUSTOM_PREPROCESSING)
    return model_dir


# 1. save -> load round trip


def test_round_trip_gives_identical_logits_and_labels(tiny_classifier_dir, tmp_path, pixel_values):
    model, labels = load_scene_classifier(tiny_classifier_dir)
    assert labels == list(TINY_SCENE_LABELS)
    assert not model.training

    save_scene_classifier(model, tmp_path / "copy", "vit_base_patch16_224", labels, TINY_VIT_ARGS)
    reloaded, reloaded_labels = load_scene_classifier(tmp_path / "copy")
    assert reloaded_labels == labels
    assert torch.equal(logits_of(model, pixel_values), logits_of(reloaded, pixel_values))


def test_random_builder_matches_build_random_vit(tiny_classifier_dir, pixel_values):
    built = build_random_vit("tiny", num_classes=len(TINY_SCENE_LABELS), seed=0)
    loaded, _labels = load_scene_classifier(tiny_classifier_dir)
    assert torch.equal(logits_of(built, pixel_values), logits_of(loaded, pixel_values))


def test_mismatched_state_dict_fails_clearly(tiny_classifier_dir, tmp_path):
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "config.json").write_text((tiny_classifier_dir / "config.json").read_text())
    state_dict = load_file(str(tiny_classifier_dir / "model.safetensors"))
    state_dict["head.weight"] = torch.zeros(7, 32)
    state_dict.pop("norm.bias")
    state_dict["extra.weight"] = torch.zeros(1)
    save_file(state_dict, str(broken / "model.safetensors"))
    write_manifest(broken, "test", "broken", None)

    with pytest.raises(ValueError) as raised:
        load_scene_classifier(broken)
    message = str(raised.value)
    assert "model.safetensors does not fit vit_base_patch16_224 with 5 classes" in message
    assert "norm.bias" in message and "extra.weight" in message and "head.weight has shape (7, 32)" in message


def test_save_refuses_a_config_that_would_not_rebuild_the_model(tmp_path):
    model = tiny_timm_model(3)
    with pytest.raises(ValueError, match="does not rebuild this model"):
        save_scene_classifier(model, tmp_path / "out", "vit_base_patch16_224", ["a", "b", "c"])  # no model_args
    assert not (tmp_path / "out").exists()


def test_saved_folder_follows_timm_hub_layout(tiny_classifier_dir, pixel_values):
    """timm's own local-dir loader reads our folder: same format as save_for_hf."""
    import timm

    config = json.loads((tiny_classifier_dir / "config.json").read_text())
    assert config["architecture"] == "vit_base_patch16_224"
    assert config["num_classes"] == 5 and config["label_names"] == list(TINY_SCENE_LABELS)
    assert config["pretrained_cfg"]["mean"] == [0.5, 0.5, 0.5]

    timm_model = timm.create_model(f"local-dir:{tiny_classifier_dir}", pretrained=True).eval()
    ours, _labels = load_scene_classifier(tiny_classifier_dir)
    assert timm_model.pretrained_cfg["label_names"] == list(TINY_SCENE_LABELS)
    assert torch.equal(logits_of(timm_model, pixel_values), logits_of(ours, pixel_values))


# 2. preprocessing read from the model


def test_random_classifier_is_fed_as_the_original(tiny_classifier_dir):
    model, _labels = load_scene_classifier(tiny_classifier_dir)
    assert scene_preprocessing(model, "model") == ORIGINAL_PREPROCESSING


def test_model_preprocessing_is_read_from_the_saved_config(custom_classifier_dir):
    config = json.loads((custom_classifier_dir / "config.json").read_text())["pretrained_cfg"]
    assert config["input_size"] == [3, 160, 128] and config["interpolation"] == "bicubic"
    assert config["mean"] == [0.485, 0.456, 0.406] and config["std"] == [0.229, 0.224, 0.225]
    assert (config["crop_pct"], config["crop_mode"]) == (1.0, "squash")

    model, _labels = load_scene_classifier(custom_classifier_dir)
    preprocessing = scene_preprocessing(model, "model")
    assert preprocessing == CUSTOM_PREPROCESSING
    assert preprocessing.size == (160, 128) and preprocessing.interpolation == "bicubic"
    assert preprocessing.mean == (0.485, 0.456, 0.406) and preprocessing.std == (0.229, 0.224, 0.225)


def test_model_preprocessing_is_what_timm_resolves_for_the_folder(custom_classifier_dir):
    import timm
    from timm.data import resolve_model_data_config

    timm_config = resolve_model_data_config(timm.create_model(f"local-dir:{custom_classifier_dir}", pretrained=True))
    ours = scene_preprocessing(load_scene_classifier(custom_classifier_dir)[0], "model")
    assert ours == ScenePreprocessing(timm_config["input_size"][1:], timm_config["mean"], timm_config["std"],
                                      timm_config["interpolation"])


def test_model_args_img_size_wins_over_a_stale_input_size(custom_classifier_dir, tmp_path):
    # As timm's loader repairs older exports whose pretrained_cfg kept the source model's input size.
    folder = tmp_path / "stale"
    folder.mkdir()
    config = json.loads((custom_classifier_dir / "config.json").read_text())
    config["pretrained_cfg"]["input_size"] = [3, 224, 224]
    (folder / "config.json").write_text(json.dumps(config))
    (folder / "model.safetensors").write_bytes((custom_classifier_dir / "model.safetensors").read_bytes())
    write_manifest(folder, "test", "stale", None)
    assert scene_preprocessing(load_scene_classifier(folder)[0], "model") == CUSTOM_PREPROCESSING


def test_custom_model_input_values_and_relevance_grid(custom_classifier_dir):
    model, _labels = load_scene_classifier(custom_classifier_dir)
    colour = (37, 128, 250)
    image = np.empty((90, 70, 3), dtype=np.uint8)
    image[:] = colour
    pixels = preprocess_scene(image, scene_preprocessing(model, "model"))
    mean, std = np.float32(CUSTOM_PREPROCESSING.mean), np.float32(CUSTOM_PREPROCESSING.std)
    expected = (np.float32(colour) * np.float32(1 / 255) - mean) / std  # torchvision's float32 order
    assert pixels.shape == (1, 3, 160, 128)
    assert torch.equal(pixels, torch.from_numpy(expected)[None, :, None, None].expand(1, 3, 160, 128))

    grid, _index, _logits = relevance_grid(model, preprocess_scene(gradient_image(120, 90), CUSTOM_PREPROCESSING))
    assert patch_grid(model) == (10, 8) and grid.shape == (10, 8)


def test_original_mode_ignores_the_models_config(tmp_path):
    imagenet = ScenePreprocessing(224, CUSTOM_PREPROCESSING.mean, CUSTOM_PREPROCESSING.std, "bicubic")
    save_scene_classifier(tiny_timm_model(3), tmp_path / "m", "vit_base_patch16_224", ["a", "b", "c"],
                          TINY_VIT_ARGS, imagenet)
    model, _labels = load_scene_classifier(tmp_path / "m")
    assert scene_preprocessing(model, "model") == imagenet
    original = scene_preprocessing(model, "original")
    assert original == ORIGINAL_PREPROCESSING
    assert original.size == (224, 224) and original.mean == original.std == (0.5, 0.5, 0.5)


def test_original_mode_refuses_a_model_of_another_size(custom_classifier_dir):
    model, _labels = load_scene_classifier(custom_classifier_dir)
    with pytest.raises(ValueError, match=r"resizes to 224x224 but the model takes 160x128 .*patch grid is \(10, 8\)"):
        scene_preprocessing(model, "original")


def test_save_keeps_the_models_own_preprocessing_by_default(custom_classifier_dir, tmp_path):
    model, labels = load_scene_classifier(custom_classifier_dir)
    save_scene_classifier(model, tmp_path / "copy", "vit_base_patch16_224", labels, CUSTOM_VIT_ARGS)
    assert scene_preprocessing(load_scene_classifier(tmp_path / "copy")[0], "model") == CUSTOM_PREPROCESSING


def test_save_refuses_a_size_the_model_cannot_take(custom_classifier_dir, tmp_path):
    model, labels = load_scene_classifier(custom_classifier_dir)
    with pytest.raises(ValueError, match="but the model takes 160x128"):
        save_scene_classifier(model, tmp_path / "out", "vit_base_patch16_224", labels, CUSTOM_VIT_ARGS,
                              ORIGINAL_PREPROCESSING)
    assert not (tmp_path / "out").exists()


def test_unsupported_interpolation_in_a_config_fails_clearly(tiny_classifier_dir, tmp_path):
    folder = tmp_path / "lanczos"
    folder.mkdir()
    config = json.loads((tiny_classifier_dir / "config.json").read_text())
    config["pretrained_cfg"]["interpolation"] = "lanczos"
    (folder / "config.json").write_text(json.dumps(config))
    (folder / "model.safetensors").write_bytes((tiny_classifier_dir / "model.safetensors").read_bytes())
    write_manifest(folder, "test", "lanczos", None)
    model, _labels = load_scene_classifier(folder)
    with pytest.raises(ValueError, match="pretrained_cfg .*unsupported interpolation 'lanczos'"):
        scene_preprocessing(model, "model")
    assert scene_preprocessing(model, "original") == ORIGINAL_PREPROCESSING


def test_scene_stage_feeds_every_photo_with_the_given_preprocessing(custom_classifier_dir, tmp_path):
    model, labels = load_scene_classifier(custom_classifier_dir)
    preprocessing = scene_preprocessing(model, "model")
    names = ["wide.png", "tall.png"]
    save_image(tmp_path / "in" / "wide.png", gradient_image(60, 150, seed=1))
    save_image(tmp_path / "in" / "tall.png", gradient_image(140, 50, seed=2))
    items = make_items(tmp_path, names)
    params = {"top_k": 3, "relevance": "gradient_rollout"}
    counts = run_scene_shard(items, model, labels, params, {"id": "custom"}, 10**8, batch_size=2,
                             preprocessing=preprocessing)
    assert counts == {"images": 2, "rejected": 0}
    for item in items:
        record = json.loads(Path(item["json"]).read_text())
        with np.load(item["npz"]) as arrays:
            assert arrays["relevance"].shape == (10, 8)
        pixels = preprocess_scene(load_rgb(item["path"], MAX_PIXELS), preprocessing)
        probabilities, _top = classify(model, pixels, labels, params["top_k"])
        assert record["status"] == "ok"
        assert [entry["probability"] for entry in record["top_k"]] == pytest.approx(
            sorted(probabilities.tolist(), reverse=True), abs=2e-6)


@pytest.mark.parametrize("method", ["gradient_rollout", "transformer_attribution"])
def test_scene_stage_writes_the_chosen_relevance_method(tiny_classifier_dir, tmp_path, method):
    """params["relevance"] picks the map: each stage map equals its method's own call on the same input."""
    model, labels = load_scene_classifier(tiny_classifier_dir)
    preprocessing = scene_preprocessing(model, "original")
    save_image(tmp_path / "in" / "wide.png", gradient_image(60, 150, seed=1))
    [item] = make_items(tmp_path, ["wide.png"])
    run_scene_shard([item], model, labels, {"top_k": 2, "relevance": method}, {"id": "tiny"}, 10**8,
                    batch_size=1, preprocessing=preprocessing)
    pixels = preprocess_scene(load_rgb(item["path"], MAX_PIXELS), preprocessing)
    expected = {"gradient_rollout": relevance_grids, "transformer_attribution": transformer_attribution_grids}
    grids, _, _ = expected[method](model, pixels)
    other, _, _ = expected[({*expected} - {method}).pop()](model, pixels)
    with np.load(item["npz"]) as arrays:
        np.testing.assert_array_equal(arrays["relevance"], grids[0])
        assert not np.allclose(arrays["relevance"], other[0])
    assert json.loads(Path(item["json"]).read_text())["provenance"]["params"]["relevance"] == method


# 3. timm hub folders


def test_folder_written_by_timm_save_for_hf_loads(tmp_path, pixel_values):
    from timm.models import save_for_hf

    model = tiny_timm_model(4)
    save_for_hf(model, tmp_path / "hub", model_config={"label_names": ["w", "x", "y", "z"]}, safe_serialization=True)
    write_manifest(tmp_path / "hub", "test", "save_for_hf", None)  # as rule fetch_model writes one
    loaded, labels = load_scene_classifier(tmp_path / "hub")
    assert labels == ["w", "x", "y", "z"]
    assert torch.equal(logits_of(model, pixel_values), logits_of(loaded, pixel_values))


def write_hub_style_folder(folder, model, num_classes, **extra):
    """What the hub repo holds (architecture, num_classes, pretrained_cfg; no label names)."""
    folder.mkdir()
    config = {
        "architecture": "vit_base_patch16_224",
        "num_classes": num_classes,
        "num_features": 32,
        "global_pool": "token",
        "model_args": dict(TINY_VIT_ARGS),  # keeps the model tiny; the real repo has none
        "pretrained_cfg": {
            "tag": "augreg2_in21k_ft_in1k", "custom_load": False, "input_size": [3, 224, 224],
            "fixed_input_size": True, "interpolation": "bicubic", "crop_pct": 0.9, "crop_mode": "center",
            "mean": [0.5, 0.5, 0.5], "std": [0.5, 0.5, 0.5], "num_classes": num_classes,
            "pool_size": None, "first_conv": "patch_embed.proj", "classifier": "head",
        },
        **extra,
    }
    (folder / "config.json").write_text(json.dumps(config))
    save_file(model.state_dict(), str(folder / "model.safetensors"))
    write_manifest(folder, "test", "hub-style", None)


def test_hub_folder_without_label_names_gets_imagenet_names(tmp_path, pixel_values):
    model = tiny_timm_model(1000)
    write_hub_style_folder(tmp_path / "in1k", model, 1000)
    loaded, labels = load_scene_classifier(tmp_path / "in1k")
    assert len(labels) == 1000 and labels[0] == "tench, Tinca tinca"
    assert torch.equal(logits_of(model, pixel_values), logits_of(loaded, pixel_values))


def test_hub_folder_preprocessing_is_its_pretrained_cfg_squashed(tmp_path):
    # vit_base_patch16_224.augreg2_in21k_ft_in1k's: 224, 0.5 / 0.5, bicubic, centre crop 0.9 (not applied).
    write_hub_style_folder(tmp_path / "hub", tiny_timm_model(3), 3)
    model, _labels = load_scene_classifier(tmp_path / "hub")
    assert scene_preprocessing(model, "model") == ScenePreprocessing((224, 224), (0.5,) * 3, (0.5,) * 3, "bicubic")


def test_hub_folder_labels_from_dict_and_descriptions_or_class_index(tmp_path):
    write_hub_style_folder(
        tmp_path / "described", tiny_timm_model(3), 3,
        label_names={"0": "n1", "2": "n3"}, label_descriptions={"n1": "first"},
    )
    assert load_scene_classifier(tmp_path / "described")[1] == ["first", "class_1", "n3"]
    write_hub_style_folder(tmp_path / "unnamed", tiny_timm_model(3), 3)
    assert load_scene_classifier(tmp_path / "unnamed")[1] == ["class_0", "class_1", "class_2"]


# 4. fine-tuning


def test_training_learns_saves_and_is_deterministic(scene_image_folder, tiny_classifier_dir, tmp_path):
    run = {**TRAINING, "steps": 15, "batch_size": 4, "lr": 1e-3, "seed": 3}
    stats = train_scene_classifier(scene_image_folder, tiny_classifier_dir, tmp_path / "a", **run)
    assert stats["class_names"] == ["desert", "forest", "sea"]
    assert stats["n_images"] == 12 and stats["n_rejected"] == 1
    assert stats["rejected"][0]["path"].endswith("broken.jpg")
    assert stats["steps"] == len(stats["losses"]) == 15 and stats["final_loss"] == stats["losses"][-1]
    assert np.mean(stats["losses"][-3:]) < 0.5 * np.mean(stats["losses"][:3])

    model, labels = load_scene_classifier(tmp_path / "a")
    assert labels == ["desert", "forest", "sea"]
    assert model.head.out_features == 3

    train_scene_classifier(scene_image_folder, tiny_classifier_dir, tmp_path / "b", **run)
    first = load_file(str(tmp_path / "a" / "model.safetensors"))
    second = load_file(str(tmp_path / "b" / "model.safetensors"))
    assert first.keys() == second.keys()
    assert all(torch.equal(first[name], second[name]) for name in first)


def test_training_feeds_and_saves_the_base_models_preprocessing(
    scene_image_folder, custom_classifier_dir, monkeypatch, tmp_path
):
    from photoprivacy.scene import train

    fed = []

    def recording(image, preprocessing):
        fed.append(preprocessing)
        return preprocess_scene(image, preprocessing)

    monkeypatch.setattr(train, "preprocess_scene", recording)
    stats = train_scene_classifier(scene_image_folder, custom_classifier_dir, tmp_path / "out", steps=2,
                                   **{**TRAINING, "batch_size": 3, "preprocessing": "model"})
    assert stats["preprocessing"] == CUSTOM_PREPROCESSING
    assert len(fed) == 6 and set(fed) == {CUSTOM_PREPROCESSING}

    config = json.loads((tmp_path / "out" / "config.json").read_text())["pretrained_cfg"]
    assert config["input_size"] == [3, 160, 128] and (config["crop_pct"], config["crop_mode"]) == (1.0, "squash")
    trained, labels = load_scene_classifier(tmp_path / "out")
    assert labels == ["desert", "forest", "sea"]
    assert scene_preprocessing(trained, "model") == CUSTOM_PREPROCESSING


def test_training_in_original_mode_saves_the_original_preprocessing(scene_image_folder, tmp_path):
    imagenet = ScenePreprocessing(224, CUSTOM_PREPROCESSING.mean, CUSTOM_PREPROCESSING.std, "bicubic")
    save_scene_classifier(tiny_timm_model(3), tmp_path / "base", "vit_base_patch16_224", ["a", "b", "c"],
                          TINY_VIT_ARGS, imagenet)
    stats = train_scene_classifier(scene_image_folder, tmp_path / "base", tmp_path / "out", steps=1,
                                   **{**TRAINING, "batch_size": 2, "preprocessing": "original"})
    assert stats["preprocessing"] == ORIGINAL_PREPROCESSING
    trained, _labels = load_scene_classifier(tmp_path / "out")
    assert scene_preprocessing(trained, "model") == ORIGINAL_PREPROCESSING


# 5. error cases


def test_missing_training_folder_names_the_config_key(tiny_classifier_dir, tmp_path):
    with pytest.raises(ConfigError, match=r"scene\.train_images: .* does not exist"):
        train_scene_classifier(tmp_path / "nowhere", tiny_classifier_dir, tmp_path / "out", steps=1, **TRAINING)


def test_single_class_is_refused(tiny_classifier_dir, tmp_path):
    save_image(tmp_path / "images" / "only" / "a.png", gradient_image(32, 32))
    with pytest.raises(ValueError, match=r"scene\.train_images: .* 1 class folder"):
        train_scene_classifier(tmp_path / "images", tiny_classifier_dir, tmp_path / "out", steps=1, **TRAINING)


def test_class_without_usable_images_is_refused(tiny_classifier_dir, tmp_path):
    save_image(tmp_path / "images" / "good" / "a.png", gradient_image(32, 32))
    (tmp_path / "images" / "bad").mkdir()
    (tmp_path / "images" / "bad" / "broken.png").write_bytes(b"\x89PNG broken")
    with pytest.raises(ValueError, match=r"scene\.train_images: class folder\(s\) \['bad'\]"):
        train_scene_classifier(tmp_path / "images", tiny_classifier_dir, tmp_path / "out", steps=1, **TRAINING)
    assert not (tmp_path / "out").exists()


def test_unknown_training_preprocessing_is_refused(scene_image_folder, tiny_classifier_dir, tmp_path):
    with pytest.raises(ValueError, match="unknown scene preprocessing 'squash'"):
        train_scene_classifier(scene_image_folder, tiny_classifier_dir, tmp_path / "out", steps=1,
                               **{**TRAINING, "preprocessing": "squash"})
    assert not (tmp_path / "out").exists()


# 6. classify


def test_classify_probabilities_and_sorted_top_k(tiny_classifier_dir, pixel_values):
    model, labels = load_scene_classifier(tiny_classifier_dir)
    probabilities, top = classify(model, pixel_values, labels, top_k=3)
    assert probabilities.shape == (5,) and probabilities.dtype == np.float32
    assert probabilities.sum() == pytest.approx(1.0, abs=1e-6)
    assert len(top) == 3
    assert [p for _i, _l, p in top] == sorted((p for _i, _l, p in top), reverse=True)
    assert top[0][0] == int(np.argmax(probabilities)) and top[0][1] == labels[top[0][0]]
    assert all(probabilities[index] == pytest.approx(p) for index, _label, p in top)


def test_classify_rejects_a_batch(tiny_classifier_dir, pixel_values):
    model, labels = load_scene_classifier(tiny_classifier_dir)
    with pytest.raises(ValueError, match=r"\(1, 3, H, W\)"):
        classify(model, pixel_values.repeat(2, 1, 1, 1), labels, 3)


@pytest.mark.parametrize("method", ["gradient_rollout", "transformer_attribution"])
def test_scene_stage_on_real_photos_of_many_sizes_matches_a_fresh_model(
        tiny_classifier_dir, custom_classifier_dir, photo_variants, tmp_path, method):
    """One model over a sequence of real photos (as taken, cropped, upscaled 2x and 3x), in batches of 3,
    gives for each photo what a freshly loaded model gives for that photo alone."""
    names = [path.name for path in photo_variants]
    for model_dir, mode in ((tiny_classifier_dir, "original"), (custom_classifier_dir, "model")):
        model, labels = load_scene_classifier(model_dir)
        preprocessing = scene_preprocessing(model, mode)
        items = make_items(tmp_path / mode, names)
        for item in items:
            item["path"] = str(photo_variants[0].parent / Path(item["path"]).name)
        counts = run_scene_shard(items, model, labels, {"top_k": 2, "relevance": method}, {"id": "x"}, 10**9,
                                 batch_size=3, preprocessing=preprocessing)
        assert counts == {"images": len(names), "rejected": 0}
        for item in items:
            fresh, _ = load_scene_classifier(model_dir)
            pixels = preprocess_scene(load_rgb(item["path"], MAX_PIXELS), preprocessing)
            grids, [index], _ = RELEVANCE[method](fresh, pixels)
            record = json.loads(Path(item["json"]).read_text())
            assert record["class_index"] == index
            with np.load(item["npz"]) as arrays:
                np.testing.assert_allclose(arrays["relevance"], grids[0], rtol=1e-4, atol=1e-6 * np.abs(grids).max())
