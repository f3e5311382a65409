"""The model families: the files each family's loader needs and its random builder.

Adding a family (a captioner, a scene classifier) is one ``ModelFamily`` registered
in ``MODEL_FAMILIES`` under the name its ``models:`` entry in config.yaml has; the
fetch and offline-build rules serve every family through these functions, and every
loader checks its folder with ``verify_model``. The builders live in
``models.offline`` and are imported only when called: the Snakefile imports this
module at every planning, without torch.
"""

import importlib
from dataclasses import dataclass, field

from ..errors import ModelNotAvailable
from ..registry import Registry
from .store import fetch_from_hub, verify_manifest, write_manifest

MODEL_FAMILIES = Registry("model family", "models")


@dataclass(frozen=True)
class ModelFamily:
    """One model family, registered under its name in config.yaml's ``models``."""

    required_files: tuple  # what the loader reads; every folder's manifest must list them
    builder: str  # "module:function" (model_dir, size=, seed=) of its random model, for the offline profile
    builder_options: dict = field(default_factory=dict)  # further keyword arguments of the builder

    def build_random(self, model_dir, size, seed):
        module, function = self.builder.split(":")
        return getattr(importlib.import_module(module), function)(model_dir, size=size, seed=seed,
                                                                  **self.builder_options)


OFFLINE = "photoprivacy.models.offline"
TRANSFORMERS_FILES = ("config.json", "model.safetensors")
CAPTIONER_FILES = (*TRANSFORMERS_FILES, "preprocessor_config.json", "tokenizer_config.json")

MODEL_FAMILIES.register("detr")(ModelFamily(TRANSFORMERS_FILES, f"{OFFLINE}.detr:build_random_detr"))
MODEL_FAMILIES.register("captioner_vit_gpt2")(ModelFamily(
    (*CAPTIONER_FILES, "vocab.json", "merges.txt"), f"{OFFLINE}.captioners:build_random_captioner",
    {"kind": "vit_gpt2"},
))
MODEL_FAMILIES.register("captioner_blip")(ModelFamily(
    (*CAPTIONER_FILES, "vocab.txt"), f"{OFFLINE}.captioners:build_random_captioner", {"kind": "blip"},
))
MODEL_FAMILIES.register("scene_classifier")(ModelFamily(
    TRANSFORMERS_FILES, f"{OFFLINE}.scene:build_random_scene_classifier",
))
MODEL_FAMILIES.register("bert")(ModelFamily((*TRANSFORMERS_FILES, "vocab.txt"), f"{OFFLINE}.bert:build_random_bert"))
MODEL_FAMILIES.register("face_generator")(ModelFamily(
    ("config.json", "diffusion_pytorch_model.safetensors", "scheduler_config.json"),
    f"{OFFLINE}.face_generator:build_random_face_unet",
))


def verify_model(name, model_dir):
    """The manifest of a family's folder, checked: its files are unchanged (``verify_manifest``)
    and it lists every file the family's loader reads."""
    manifest = verify_manifest(model_dir)
    required = MODEL_FAMILIES[name].required_files
    missing = [filename for filename in required if filename not in manifest["files"]]
    if missing:
        raise ModelNotAvailable(
            f"{model_dir} holds no {name} model: it lacks {', '.join(missing)} (a {name} folder has "
            f"{', '.join(required)}); fetch or build the folder again"
        )
    return manifest


def fetch_pretrained(name, model_id, revision, model_dir, expected_sha256=None):
    """Fetch a family's pretrained files; check them against pinned SHA-256 values."""
    manifest = fetch_from_hub(model_id, revision, model_dir, MODEL_FAMILIES[name].required_files)
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
    MODEL_FAMILIES[name].build_random(model_dir, size, seed)
    return write_manifest(model_dir, "offline", f"random-{name}-{size}", f"seed-{seed}")
