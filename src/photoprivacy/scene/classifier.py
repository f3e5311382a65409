"""A timm scene classifier in a local folder: saving, loading, top-k classification.

The folder holds ``config.json`` and ``model.safetensors`` in the layout of a
timm Hugging Face hub repository (what ``timm.models.save_for_hf`` writes), so
one loader reads both our own saved classifiers and a hub snapshot such as
``timm/vit_base_patch16_224.augreg2_in21k_ft_in1k`` fetched into a folder.
``config.json`` keys used:

- ``architecture``: a timm model name, built with ``pretrained=False``;
- ``num_classes`` and ``label_names`` (a list, or a dict index -> name);
  ``label_descriptions`` (name -> readable text) when present;
- ``model_args``: extra ``timm.create_model`` arguments, e.g. the narrow
  widths of a tiny test ViT (absent in older hub configs);
- ``pretrained_cfg``: timm's config of the weights, preprocessing included
  (input size, mean, std, interpolation). It becomes the model's
  ``pretrained_cfg``, as in timm's own loader, so ``timm.data`` resolves the
  preprocessing the weights were trained with (``relevance.model_preprocessing``).

Loading never reaches the network: the model is created without weights and
the local safetensors state dict is loaded strictly, after the folder's
manifest is checked (``models.families.verify_model``, as for every model folder).
"""

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from ..artifacts import read_json, write_bytes_atomic, write_json
from ..errors import ModelNotAvailable
from ..models.families import verify_model
from ..models.store import write_manifest
from .relevance import check_input_size, model_preprocessing

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"


@dataclass
class ClassifierConfig:
    """What ``config.json`` says about building the model and naming its classes."""

    architecture: str
    label_names: list
    model_args: dict = field(default_factory=dict)
    pretrained_cfg: dict = field(default_factory=dict)

    @property
    def num_classes(self):
        return len(self.label_names)


def imagenet_label_names(num_classes):
    """Readable ImageNet class names from timm's bundled lists, or None if none has that size."""
    try:
        from timm.data import ImageNetInfo, infer_imagenet_subset
    except ImportError:  # older timm without the dataset info module
        return None
    subset = infer_imagenet_subset({"num_classes": num_classes})
    if subset is None:
        return None
    info = ImageNetInfo(subset)
    if info.num_classes() != num_classes:
        return None
    return [info.index_to_description(index) for index in range(num_classes)]


def _label_list(names, num_classes):
    """A list of ``num_classes`` names from a list or an index -> name dict (JSON keys are strings)."""
    if isinstance(names, dict):
        by_index = {int(index): name for index, name in names.items()}
        return [by_index.get(index, f"class_{index}") for index in range(num_classes)]
    return list(names)


def resolve_label_names(raw_config):
    """Label names of a timm-format config: its own, else ImageNet's, else ``class_<i>``."""
    pretrained_cfg = raw_config.get("pretrained_cfg", {})
    num_classes = raw_config.get("num_classes", pretrained_cfg.get("num_classes"))
    # "labels" is the key of timm's older single-dict configs.
    names = raw_config.get("label_names") or pretrained_cfg.get("label_names") or raw_config.get("labels")
    descriptions = raw_config.get("label_descriptions") or pretrained_cfg.get("label_descriptions") or {}
    if num_classes is None:
        if names is None:
            raise ValueError("config has neither num_classes nor label_names")
        num_classes = len(names)
    if names is None:
        names = imagenet_label_names(num_classes) or [f"class_{index}" for index in range(num_classes)]
    labels = [descriptions.get(name, name) for name in _label_list(names, num_classes)]
    if len(labels) != num_classes:
        raise ValueError(f"config has {len(labels)} label names for num_classes {num_classes}")
    return labels


def read_classifier_config(model_dir):
    """Parse ``model_dir/config.json`` (our format or a timm hub repository's)."""
    path = Path(model_dir) / CONFIG_FILE
    if not path.is_file():
        raise ModelNotAvailable(f"scene classifier config {path} is missing")
    raw = read_json(path)
    if "architecture" not in raw:
        raise ValueError(f"{path}: no 'architecture' key (expected a timm model config)")
    try:
        label_names = resolve_label_names(raw)
    except ValueError as error:
        raise ValueError(f"{path}: {error}") from None
    # num_classes is set from the label names, so a stale copy in model_args must not override it.
    model_args = {key: value for key, value in raw.get("model_args", {}).items() if key != "num_classes"}
    return ClassifierConfig(
        architecture=raw["architecture"],
        label_names=label_names,
        model_args=model_args,
        pretrained_cfg=timm_pretrained_cfg(raw.get("pretrained_cfg", raw), model_args, len(label_names)),
    )


def timm_pretrained_cfg(pretrained_cfg, model_args, num_classes):
    """``pretrained_cfg`` of config.json as timm's loader reads it: only ``PretrainedCfg`` fields
    (a legacy single-dict config also holds architecture, labels, ...), and ``model_args``' img_size
    as the input size of a fixed-size model (timm repairs older exports that kept the source's)."""
    from timm.models import PretrainedCfg

    fields = {item.name for item in dataclasses.fields(PretrainedCfg)}
    cfg = {key: value for key, value in pretrained_cfg.items() if key in fields}
    cfg["num_classes"] = num_classes
    if model_args.get("img_size") is not None and cfg.get("fixed_input_size", False):
        size = model_args["img_size"]
        size = (size, size) if isinstance(size, int) else tuple(size)
        cfg["input_size"] = (cfg.get("input_size", (3,))[0], *size)
    return cfg


def create_classifier(architecture, num_classes, model_args=None, pretrained_cfg=None):
    """An untrained timm model of ``architecture``; weights never come from the network.

    ``pretrained_cfg`` (config.json's) replaces the architecture's registry default as the
    model's ``pretrained_cfg``; a fixed-size model takes its img_size from its input_size
    unless ``model_args`` give one.
    """
    import timm

    return timm.create_model(
        architecture, pretrained=False, pretrained_cfg=pretrained_cfg or None,
        **{**(model_args or {}), "num_classes": num_classes},
    )


def state_dict_mismatches(expected, found):
    """Why ``found`` cannot load strictly into a model whose state dict is ``expected``."""
    problems = []
    missing = sorted(set(expected) - set(found))
    unexpected = sorted(set(found) - set(expected))
    if missing:
        problems.append(f"missing {len(missing)} tensors (e.g. {', '.join(missing[:3])})")
    if unexpected:
        problems.append(f"unexpected {len(unexpected)} tensors (e.g. {', '.join(unexpected[:3])})")
    for name in sorted(set(expected) & set(found)):
        if tuple(expected[name].shape) != tuple(found[name].shape):
            problems.append(f"{name} has shape {tuple(found[name].shape)}, expected {tuple(expected[name].shape)}")
    return problems


def load_scene_classifier(model_dir, device="cpu"):
    """Load a local classifier folder; returns ``(model in eval mode, label_names)``."""
    from safetensors.torch import load_file

    verify_model("scene_classifier", model_dir)
    config = read_classifier_config(model_dir)
    weights_path = Path(model_dir) / WEIGHTS_FILE
    if not weights_path.is_file():
        raise ModelNotAvailable(f"scene classifier weights {weights_path} are missing")
    model = create_classifier(config.architecture, config.num_classes, config.model_args, config.pretrained_cfg)
    state_dict = load_file(str(weights_path), device="cpu")
    problems = state_dict_mismatches(model.state_dict(), state_dict)
    if problems:
        raise ValueError(
            f"{weights_path} does not fit {config.architecture} with {config.num_classes} classes "
            f"and model_args {config.model_args} from {CONFIG_FILE}: " + "; ".join(problems)
        )
    model.load_state_dict(state_dict, strict=True)
    return model.eval().to(device), list(config.label_names)


def _check_rebuildable(state_dict, architecture, num_classes, model_args, pretrained_cfg):
    """Fail at save time, not at load time, when the config would build a different model."""
    with torch.device("meta"):  # shapes only: no memory, no initialisation cost
        rebuilt = create_classifier(architecture, num_classes, model_args, pretrained_cfg)
    problems = state_dict_mismatches(rebuilt.state_dict(), state_dict)
    if problems:
        raise ValueError(
            f"timm.create_model('{architecture}', num_classes={num_classes}, **{model_args}) does not "
            "rebuild this model (pass its model_args): " + "; ".join(problems)
        )


def scene_config(model, architecture, label_names, model_args, preprocessing):
    """config.json in timm's hub layout; its pretrained_cfg is ``preprocessing`` (a
    ``ScenePreprocessing``), with the squash resize the scene stage always does (crop 1.0)."""
    num_classes = len(label_names)
    pretrained_cfg = {
        "custom_load": False,
        "input_size": [3, *preprocessing.size],
        "fixed_input_size": True,
        "interpolation": preprocessing.interpolation,
        "crop_pct": 1.0,
        "crop_mode": "squash",
        "mean": list(preprocessing.mean),
        "std": list(preprocessing.std),
        "num_classes": num_classes,
        "first_conv": "patch_embed.proj",
        "classifier": "head",
    }
    config = {
        "architecture": architecture,
        "num_classes": num_classes,
        "num_features": int(model.num_features),
        "label_names": list(label_names),
        "model_args": {**model_args, "num_classes": num_classes},
        "pretrained_cfg": pretrained_cfg,
    }
    if isinstance(getattr(model, "global_pool", None), str):
        config["global_pool"] = model.global_pool
    return config


def save_scene_classifier(model, model_dir, architecture, label_names, model_args=None, preprocessing=None):
    """Write ``config.json``, ``model.safetensors`` and their manifest so that ``load_scene_classifier``
    rebuilds ``model``.

    ``model_args`` are the ``timm.create_model`` arguments beyond ``architecture``'s
    defaults (none for a stock architecture). ``preprocessing`` (a ``ScenePreprocessing``)
    is what the model was trained with, so that it is later fed the same way; None keeps
    the model's own (``model_preprocessing``).
    """
    from safetensors.torch import save

    label_names = [str(name) for name in label_names]
    model_args = {key: value for key, value in (model_args or {}).items() if key != "num_classes"}
    preprocessing = model_preprocessing(model) if preprocessing is None else preprocessing
    check_input_size(model, preprocessing)
    config = scene_config(model, architecture, label_names, model_args, preprocessing)
    state_dict = {name: tensor.detach().cpu().contiguous() for name, tensor in model.state_dict().items()}
    pretrained_cfg = timm_pretrained_cfg(config["pretrained_cfg"], model_args, len(label_names))  # as loading reads it
    _check_rebuildable(state_dict, architecture, len(label_names), model_args, pretrained_cfg)
    model_dir = Path(model_dir)
    write_bytes_atomic(model_dir / WEIGHTS_FILE, save(state_dict))
    write_json(model_dir / CONFIG_FILE, config)
    write_manifest(model_dir, "saved", f"{architecture} ({len(label_names)} classes)", None)
    return model_dir


def classify(model, pixel_values, label_names, top_k):
    """Class probabilities of one image and its ``top_k`` (scene.top_k) classes, most probable first.

    ``pixel_values`` is a (1, 3, H, W) tensor (``preprocess_scene``). Returns
    ``(probabilities float32 (num_classes,), [(index, label, probability), ...])``.
    """
    if pixel_values.ndim != 4 or pixel_values.shape[0] != 1:
        raise ValueError(f"expected pixel values of shape (1, 3, H, W), got {tuple(pixel_values.shape)}")
    parameter = next(model.parameters())
    with torch.inference_mode():
        logits = model(pixel_values.to(parameter.device, parameter.dtype))
    return top_predictions(logits[0].float().cpu().numpy(), label_names, top_k)


def top_predictions(logits, label_names, top_k):
    """Softmax of one image's logits and its ``top_k`` (scene.top_k) classes as (index, label, probability),
    most probable first."""
    logits = np.asarray(logits, dtype=np.float64)
    if len(label_names) != logits.shape[0]:
        raise ValueError(f"{len(label_names)} label names for {logits.shape[0]} model outputs")
    probabilities = np.exp(logits - logits.max())
    probabilities /= probabilities.sum()
    order = np.argsort(-probabilities, kind="stable")[:top_k]
    top = [(int(index), label_names[index], float(probabilities[index])) for index in order]
    return probabilities.astype(np.float32), top
