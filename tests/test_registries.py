"""Each pluggable family is one registry. The config key that chooses an implementation takes
any registered name (the schema lists none: the workflow checks the name at start), and what
each entry declares names real config keys and model families."""

import pytest
import yaml

from photoprivacy.caption.captioners import CAPTIONERS
from photoprivacy.detection.detectors import OBJECT_DETECTORS
from photoprivacy.faces.detectors import FACE_DETECTORS
from photoprivacy.faces.generators import FACE_GENERATORS
from photoprivacy.language.methods import LANGUAGE_METHODS
from photoprivacy.models.families import MODEL_FAMILIES
from photoprivacy.models.offline.captioners import RANDOM_CAPTIONERS
from photoprivacy.registry import Registry
from photoprivacy.render.methods import MASK_METHODS, REGION_METHODS
from photoprivacy.scene.methods import RELEVANCE_METHODS

from conftest import SCHEMAS, default_config

REGISTRIES = {
    "captioners": CAPTIONERS,
    "language methods": LANGUAGE_METHODS,
    "object detectors": OBJECT_DETECTORS,
    "face detectors": FACE_DETECTORS,
    "face generators": FACE_GENERATORS,
    "scenario 1 obfuscation": MASK_METHODS,
    "person obfuscation": REGION_METHODS,
    "relevance methods": RELEVANCE_METHODS,
}


def schema_property(key):
    """The schema of a dotted config key."""
    node = yaml.safe_load((SCHEMAS / "config.schema.yaml").read_text())
    for part in key.split("."):
        node = node["properties"][part]
    return node


@pytest.mark.parametrize("family", REGISTRIES)
def test_the_schema_leaves_the_choice_to_the_registry(family):
    """No enum to keep in step: adding an implementation touches no schema."""
    assert schema_property(REGISTRIES[family].config_key)["type"] == "string"


@pytest.mark.parametrize("family", REGISTRIES)
def test_every_entry_declares_real_keys_and_model_families(family):
    registry, config = REGISTRIES[family], default_config()
    section = registry.section_of(config)
    for name in registry.names:
        entry = registry.entry(name)
        assert set(entry.keys) <= set(section), name
        assert set(entry.required) <= set(entry.keys) and set(entry.files) <= set(entry.keys), name
        assert set(entry.execution) <= set(config["execution"]), name
        assert {key for key, _ in entry.resolve} <= set(entry.keys), name
        if entry.model:
            assert entry.model in MODEL_FAMILIES and set(config["models"][entry.model]) >= {"id", "revision"}
        assert entry.model or not entry.device, f"{name} runs on the device without a model"
        assert callable(registry[name])  # a path declared for later import names a real class or function


@pytest.mark.parametrize("family", REGISTRIES)
def test_config_yaml_names_a_registered_implementation(family):
    registry = REGISTRIES[family]
    value = default_config()
    for part in registry.config_key.split("."):
        value = value[part]
    assert value in registry


def test_every_captioner_has_its_model_family_and_a_random_builder():
    for name in CAPTIONERS.names:
        assert CAPTIONERS.entry(name).model == f"captioner_{name}" and name in RANDOM_CAPTIONERS


def test_registry_names_the_key_and_the_choices_of_an_unknown_name():
    methods = Registry("widget", "render.widget")

    @methods.register("first")
    def first():
        return 1

    methods.register("second")(lambda: 2)
    assert methods["first"] is first and methods.names == ("first", "second") and "second" in methods
    unknown = r"^unknown widget 'third' \(config key render.widget: one of first, second\)$"
    with pytest.raises(ValueError, match=unknown):
        methods["third"]
    with pytest.raises(ValueError, match="widget 'first' is registered twice"):
        methods.register("first")(lambda: 3)
