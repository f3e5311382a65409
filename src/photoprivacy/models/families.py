"""One entry per model family: the files its loader needs and its random builder.

Adding a family (a captioner, a scene classifier) is one entry here; the
fetch and offline-build rules serve every family through these functions, and
every loader checks its folder with ``verify_model``.
"""

import importlib

from ..errors import ModelNotAvailable
from .store import fetch_from_hub, verify_manifest, write_manifest

FAMILIES = {
    "detr": {
        "required_files": ("config.json", "model.safetensors"),
        "builder": "photoprivacy.detection.detr:build_random_detr",
    },
    "captioner_vit_gpt2": {
        "required_files": ("config.json", "model.safetensors", "preprocessor_config.json", "tokenizer_config.json",
                           "vocab.json", "merges.txt"),
        "builder": "photoprivacy.caption.models:build_random_captioner",
        "builder_options": {"kind": "vit_gpt2"},
    },
    "captioner_blip": {
        "required_files": ("config.json", "model.safetensors", "preprocessor_config.json", "tokenizer_config.json",
                           "vocab.txt"),
        "builder": "photoprivacy.caption.models:build_random_captioner",
        "builder_options": {"kind": "blip"},
    },
    "scene_classifier": {
        "required_files": ("config.json", "model.safetensors"),
        "builder": "photoprivacy.scene.classifier:build_random_scene_classifier",
    },
    "bert": {
        "required_files": ("config.json", "model.safetensors", "vocab.txt"),
        "builder": "photoprivacy.language.bert_attention:build_random_bert",
    },
    "face_generator": {
        "required_files": ("config.json", "diffusion_pytorch_model.safetensors", "scheduler_config.json"),
        "builder": "photoprivacy.faces.generators:build_random_face_unet",
    },
}


def family(name):
    try:
        return FAMILIES[name]
    except KeyError:
        raise ValueError(f"unknown model family '{name}' (known: {sorted(FAMILIES)})") from None


def verify_model(name, model_dir):
    """The manifest of a family's folder, checked: its files are unchanged (``verify_manifest``)
    and it lists every file the family's loader reads."""
    manifest = verify_manifest(model_dir)
    required = family(name)["required_files"]
    missing = [filename for filename in required if filename not in manifest["files"]]
    if missing:
        raise ModelNotAvailable(
            f"{model_dir} holds no {name} model: it lacks {', '.join(missing)} (a {name} folder has "
            f"{', '.join(required)}); fetch or build the folder again"
        )
    return manifest


def fetch_pretrained(name, model_id, revision, model_dir, expected_sha256=None):
    """Fetch a family's pretrained files; check them against pinned SHA-256 values."""
    manifest = fetch_from_hub(model_id, revision, model_dir, family(name)["required_files"])
    for filename, digest in (expected_sha256 or {}).items():
        found = manifest["files"].get(filename, {}).get("sha256")
        if found != digest:
            raise ValueError(
                f"{model_dir}/{filename}: SHA-256 {found} differs from the pinned {digest} "
                f"(config key models.{name}.sha256)"
            )
    return manifest


def build_random(name, model_dir, size, seed):
    """Build a randomly initialised model of the family's real classes, same file layout."""
    entry = family(name)
    module, function = entry["builder"].split(":")
    getattr(importlib.import_module(module), function)(model_dir, size=size, seed=seed,
                                                       **entry.get("builder_options", {}))
    return write_manifest(model_dir, "offline", f"random-{name}-{size}", f"seed-{seed}")
