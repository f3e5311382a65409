"""config.yaml and its schema: each default is defined once, in config.yaml; the schema
(workflow/schemas/config.schema.yaml) documents and checks every key of it and holds no defaults."""

import copy

import pytest
import yaml
from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

from photoprivacy.models.families import MODEL_FAMILIES
from photoprivacy.sweeps import merge, variant_configs

from conftest import REPO, SCHEMAS, TEST_CONFIG, schema_validator

CONFIG_SCHEMA = SCHEMAS / "config.schema.yaml"
# Overlays that go on top of config.yaml with --configfile.
OVERLAYS = [TEST_CONFIG, REPO / "original.yaml", REPO / "profiles" / "slurm" / "gpu.yaml"]


def load(path):
    return yaml.safe_load(path.read_text())


def base_config():
    return load(REPO / "config.yaml")


def resolve(schema, node):
    """``node`` with a local $ref ("#/$defs/...") replaced by what it points at."""
    while "$ref" in node:
        target = schema
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def schema_keys(schema, node=None, prefix=""):
    """Dotted path -> (subschema, required) of every property in the schema."""
    node = resolve(schema, schema if node is None else node)
    keys = {}
    for name, sub in node.get("properties", {}).items():
        path = prefix + name
        keys[path] = (resolve(schema, sub), name in node.get("required", []))
        keys.update(schema_keys(schema, sub, path + "."))
    return keys


def is_map(subschema):
    """An object of free names (sweep.variants, models.<family>.sha256): its keys are data, not settings."""
    return subschema.get("type") == "object" and "properties" not in subschema


def maps_of(keys):
    return {path for path, (subschema, _) in keys.items() if is_map(subschema)}


def config_keys(config, maps, prefix=""):
    """Dotted path of every key of ``config``, not descending into the ``maps``."""
    keys = set()
    for name, value in config.items():
        path = prefix + name
        keys.add(path)
        if isinstance(value, dict) and path not in maps:
            keys |= config_keys(value, maps, path + ".")
    return keys


def without(config, path):
    """A copy of ``config`` without the key at dotted ``path``."""
    config = copy.deepcopy(config)
    *parents, key = path.split(".")
    node = config
    for part in parents:
        node = node[part]
    del node[key]
    return config


def errors(config):
    """(instance path, message) of every validation error, as the workflow's check finds them."""
    return sorted((list(error.absolute_path), error.message)
                  for error in schema_validator("config.schema.yaml").iter_errors(config))


@pytest.fixture(scope="module")
def schema():
    return load(CONFIG_SCHEMA)


@pytest.fixture(scope="module")
def keys(schema):
    return schema_keys(schema)


def test_schema_holds_no_defaults(schema):
    found = []

    def walk(node, path, names):
        """``names``: ``node`` is a map of property names (their keys are config keys, not keywords)."""
        if isinstance(node, dict):
            if "default" in node and not names:
                found.append(path)
            for key, value in node.items():
                walk(value, f"{path}/{key}", key in ("properties", "$defs") and not names)
        elif isinstance(node, list):
            for index, value in enumerate(node):
                walk(value, f"{path}/{index}", False)

    walk(schema, "", False)
    assert found == []


def test_config_yaml_validates_as_the_workflow_validates_it():
    """Validation changes nothing: config.yaml holds every value the schema's defaults used to fill in
    (models.<family>.sha256: {} too, so rule fetch_model's params stay as they were)."""
    config = base_config()
    assert errors(config) == []
    assert validate(config, str(CONFIG_SCHEMA), set_default=False) is None
    validate(config, str(CONFIG_SCHEMA))  # as workflow/rules/common.smk calls it: defaults would be filled in
    assert config == base_config()  # nothing was: config.yaml holds every key


def test_config_yaml_and_schema_have_the_same_keys(keys):
    assert maps_of(keys) == {"sweep.variants"} | {f"models.{family}.sha256" for family in MODEL_FAMILIES.names}
    assert {path for path, (_, is_required) in keys.items() if not is_required} == set()
    assert config_keys(base_config(), maps_of(keys)) == set(keys)


def test_every_key_is_required(keys):
    """Without any one key, config.yaml fails validation with one error, naming that key."""
    config = base_config()
    for path in config_keys(config, maps_of(keys)):
        *parents, key = path.split(".")
        assert errors(without(config, path)) == [(parents, f"'{key}' is a required property")], path


def test_every_section_rejects_an_unknown_key(keys):
    """A misspelt key in any section (the top level, render.scenario1, models.detr, ...) is an error naming it."""
    sections = [path for path, (subschema, _) in keys.items() if "properties" in subschema]
    assert {"render.scenario1", "persons.majors", "models.detr", "resources.detect"} < set(sections)
    for parents in [[], *(section.split(".") for section in sections)]:
        config = base_config()
        node = config
        for part in parents:
            node = node[part]
        node["treshold"] = 0.5
        assert errors(config) == [(parents, "Additional properties are not allowed ('treshold' was unexpected)")]


@pytest.mark.parametrize(
    "path",
    ["detect.threshold", "render.scenario1.block_size", "evaluate.iou", "input.sample_sheet", "detect.max_side",
     "caption.layers", "figures.panels", "resources.detect.slurm_partition", "models.face_generator.revision",
     "models.bert.sha256", "language.bert", "sweep.variants", "seed"],
)
def test_a_missing_key_stops_the_workflow_naming_it(path):
    *parents, key = path.split(".")
    with pytest.raises(WorkflowError) as raised:
        validate(without(base_config(), path), str(CONFIG_SCHEMA), set_default=False)
    message = str(raised.value)
    assert message.startswith(f"Error validating config file.\nValidationError: '{key}' is a required property\n")
    assert f"\nOn instance{''.join(f'[{part!r}]' for part in parents)}:\n" in message


@pytest.mark.parametrize("overlay", OVERLAYS, ids=lambda path: path.relative_to(REPO).as_posix())
def test_overlays_over_config_yaml_validate(overlay):
    config = merge(base_config(), load(overlay), overlay.name)
    assert errors(config) == []
    assert validate(config, str(CONFIG_SCHEMA), set_default=False) is None


def test_an_overlay_alone_does_not_validate(schema):
    """Without config.yaml beneath it an overlay lacks keys: the schema fills none in."""
    overlay = load(TEST_CONFIG)
    top_level = [message for path, message in errors(overlay) if path == []]
    assert top_level == sorted(f"'{key}' is a required property" for key in schema["required"] if key not in overlay)


def test_sweep_variants_merged_over_config_yaml_validate():
    config = base_config()
    config["sweep"]["variants"] = {
        "blur_strong": {"render": {"scenario1": {"method": "blur", "blur_sigma": 25.0}, "minor": {"method": "blur"}}},
        "notebook_ranking": {"persons": {"rule": "notebook"}},
    }
    configs = variant_configs(config)
    assert list(configs) == ["default", "blur_strong", "notebook_ranking"]
    assert {name: errors(variant) for name, variant in configs.items()} == {name: [] for name in configs}
