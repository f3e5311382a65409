"""Models as inputs: manifests, pinned checksums, and the advice when the hub is out of reach."""

import json

import pytest

from photoprivacy.errors import ModelNotAvailable
from photoprivacy.models.families import build_random, fetch_pretrained
from photoprivacy.models.store import sha256_of, verify_manifest


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


def test_missing_weights_without_hub_say_what_to_download_and_where(tmp_path):
    target = tmp_path / "resources" / "models" / "hub" / "detr"
    with pytest.raises(ModelNotAvailable) as error:
        fetch_pretrained("detr", "facebook/detr-resnet-50", "1d5f47bd3bdd2c4bbfa585418ffe6da5028b4c0b", target)
    message = str(error.value)
    assert "https://huggingface.co/facebook/detr-resnet-50/tree/1d5f47bd3bdd2c4bbfa585418ffe6da5028b4c0b" in message
    assert "config.json, model.safetensors" in message
    assert f"put them in {target}/" in message
    assert "Without network, try the workflow with `make offline`" in message


def test_files_placed_by_hand_are_used_without_network(tiny_detr_dir, tmp_path):
    target = tmp_path / "detr"
    target.mkdir()
    for name in ("config.json", "model.safetensors"):
        (target / name).write_bytes((tiny_detr_dir / name).read_bytes())
    digest = sha256_of(target / "model.safetensors")
    manifest = fetch_pretrained("detr", "facebook/detr-resnet-50", "a" * 40, target, {"model.safetensors": digest})
    assert manifest["source"] == "hub" and manifest["revision"] == "a" * 40
    assert manifest["files"]["model.safetensors"]["sha256"] == digest
    assert verify_manifest(target) == manifest
    with pytest.raises(ValueError, match=r"differs from the pinned 0{64} \(config key models.detr.sha256\)"):
        fetch_pretrained("detr", "facebook/detr-resnet-50", "a" * 40, target, {"model.safetensors": "0" * 64})


def test_offline_build_is_deterministic(tmp_path):
    first = build_random("detr", tmp_path / "one", "tiny", seed=0)
    second = build_random("detr", tmp_path / "two", "tiny", seed=0)
    assert first["files"] == second["files"]
    assert first["id"] == "random-detr-tiny" and first["source"] == "offline"
    config = json.loads((tmp_path / "one" / "config.json").read_text())
    assert config["architectures"] == ["DetrForObjectDetection"]
    assert config["id2label"]["1"] == "person"


def test_unknown_family_is_named(tmp_path):
    with pytest.raises(ValueError, match="unknown model family 'yolo'"):
        build_random("yolo", tmp_path, "tiny", seed=0)


def test_the_pretrained_config_loads_without_fetching_backbone_weights(tmp_path):
    """facebook/detr-resnet-50's config.json uses the legacy timm keys; loading it must not
    ask timm for ImageNet weights (that would reach the network at inference time)."""
    from transformers import DetrConfig

    legacy = {
        "architectures": ["DetrForObjectDetection"], "model_type": "detr", "backbone": "resnet50",
        "use_timm_backbone": True, "use_pretrained_backbone": True, "num_channels": 3,
        "num_queries": 100, "d_model": 256, "encoder_layers": 6, "decoder_layers": 6,
        "dilation": False, "id2label": {"0": "N/A", "1": "person"}, "label2id": {"N/A": 0, "person": 1},
    }
    (tmp_path / "config.json").write_text(json.dumps(legacy))
    config = DetrConfig.from_pretrained(tmp_path)
    assert config.backbone_config.model_type == "timm_backbone"
    assert config.backbone_config.backbone == "resnet50"
    assert config.backbone_config.use_pretrained_backbone is False
