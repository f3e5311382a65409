"""Scene classifier folders (ours and timm hub snapshots), classification, fine-tuning."""

import json

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

from conftest import gradient_image, save_image
from photoprivacy.errors import ConfigError
from photoprivacy.scene.classifier import (
    TINY_SCENE_LABELS,
    TINY_VIT_ARGS,
    build_random_scene_classifier,
    classify,
    create_classifier,
    load_scene_classifier,
    save_scene_classifier,
)
from photoprivacy.scene.relevance import preprocess_scene
from photoprivacy.scene.train import train_scene_classifier

CLASS_COLOURS = {"desert": (230, 200, 90), "forest": (20, 140, 40), "sea": (30, 60, 200)}


@pytest.fixture(scope="module")
def tiny_classifier_dir(tmp_path_factory):
    model_dir = tmp_path_factory.mktemp("scene") / "classifier-tiny"
    build_random_scene_classifier(model_dir, "tiny", seed=0)
    return model_dir


@pytest.fixture(scope="module")
def pixel_values():
    return preprocess_scene(gradient_image(120, 160, seed=5))


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


def tiny_timm_model(num_classes, seed=1):
    torch.manual_seed(seed)
    return create_classifier("vit_base_patch16_224", num_classes, TINY_VIT_ARGS).eval()


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
    from photoprivacy.scene.relevance import build_random_vit

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


# 2. timm hub folders


def test_folder_written_by_timm_save_for_hf_loads(tmp_path, pixel_values):
    from timm.models import save_for_hf

    model = tiny_timm_model(4)
    save_for_hf(model, tmp_path / "hub", model_config={"label_names": ["w", "x", "y", "z"]}, safe_serialization=True)
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


def test_hub_folder_without_label_names_gets_imagenet_names(tmp_path, pixel_values):
    model = tiny_timm_model(1000)
    write_hub_style_folder(tmp_path / "in1k", model, 1000)
    loaded, labels = load_scene_classifier(tmp_path / "in1k")
    assert len(labels) == 1000 and labels[0] == "tench, Tinca tinca"
    assert torch.equal(logits_of(model, pixel_values), logits_of(loaded, pixel_values))


def test_hub_folder_labels_from_dict_and_descriptions_or_class_index(tmp_path):
    write_hub_style_folder(
        tmp_path / "described", tiny_timm_model(3), 3,
        label_names={"0": "n1", "2": "n3"}, label_descriptions={"n1": "first"},
    )
    assert load_scene_classifier(tmp_path / "described")[1] == ["first", "class_1", "n3"]
    write_hub_style_folder(tmp_path / "unnamed", tiny_timm_model(3), 3)
    assert load_scene_classifier(tmp_path / "unnamed")[1] == ["class_0", "class_1", "class_2"]


# 3. fine-tuning


def test_training_learns_saves_and_is_deterministic(scene_image_folder, tiny_classifier_dir, tmp_path):
    run = dict(steps=15, batch_size=4, lr=1e-3, seed=3)
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


# 4. error cases


def test_missing_training_folder_names_the_config_key(tiny_classifier_dir, tmp_path):
    with pytest.raises(ConfigError, match=r"scene\.train_images: .* does not exist"):
        train_scene_classifier(tmp_path / "nowhere", tiny_classifier_dir, tmp_path / "out", steps=1)


def test_single_class_is_refused(tiny_classifier_dir, tmp_path):
    save_image(tmp_path / "images" / "only" / "a.png", gradient_image(32, 32))
    with pytest.raises(ValueError, match=r"scene\.train_images: .* 1 class folder"):
        train_scene_classifier(tmp_path / "images", tiny_classifier_dir, tmp_path / "out", steps=1)


def test_class_without_usable_images_is_refused(tiny_classifier_dir, tmp_path):
    save_image(tmp_path / "images" / "good" / "a.png", gradient_image(32, 32))
    (tmp_path / "images" / "bad").mkdir()
    (tmp_path / "images" / "bad" / "broken.png").write_bytes(b"\x89PNG broken")
    with pytest.raises(ValueError, match=r"scene\.train_images: class folder\(s\) \['bad'\]"):
        train_scene_classifier(tmp_path / "images", tiny_classifier_dir, tmp_path / "out", steps=1)
    assert not (tmp_path / "out").exists()


# 5. classify


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
        classify(model, pixel_values.repeat(2, 1, 1, 1), labels)
