"""Each pluggable family is one registry; the config schema's enum for the key that chooses
an implementation lists exactly the registered names, in the same order."""

import pytest
import yaml

from photoprivacy.caption.models import CAPTIONERS
from photoprivacy.detection.detectors import OBJECT_DETECTORS
from photoprivacy.faces.detectors import FACE_DETECTORS
from photoprivacy.faces.generators import FACE_GENERATORS
from photoprivacy.language.methods import LANGUAGE_METHODS
from photoprivacy.models.families import FAMILIES
from photoprivacy.registry import Registry
from photoprivacy.render.methods import MASK_METHODS, REGION_METHODS

from conftest import SCHEMAS, default_config

REGISTRIES = {
    "captioners": CAPTIONERS,
    "language methods": LANGUAGE_METHODS,
    "object detectors": OBJECT_DETECTORS,
    "face detectors": FACE_DETECTORS,
    "face generators": FACE_GENERATORS,
    "scenario 1 obfuscation": MASK_METHODS,
    "person obfuscation": REGION_METHODS,
}


def schema_property(key):
    """The schema of a dotted config key."""
    node = yaml.safe_load((SCHEMAS / "config.schema.yaml").read_text())
    for part in key.split("."):
        node = node["properties"][part]
    return node


@pytest.mark.parametrize("family", REGISTRIES)
def test_schema_enum_is_the_registry(family):
    registry = REGISTRIES[family]
    assert tuple(schema_property(registry.config_key)["enum"]) == registry.names


@pytest.mark.parametrize("family", REGISTRIES)
def test_config_yaml_names_a_registered_implementation(family):
    registry = REGISTRIES[family]
    value = default_config()
    for part in registry.config_key.split("."):
        value = value[part]
    assert value in registry


def test_every_captioner_has_a_model_family_and_a_pinned_model():
    config = default_config()
    for name in CAPTIONERS.names:
        assert f"captioner_{name}" in FAMILIES
        assert set(config["models"][f"captioner_{name}"]) >= {"id", "revision"}


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
