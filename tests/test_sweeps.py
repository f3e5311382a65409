"""Sweep variants: overrides, the sweep table and the sharing of stage outputs."""

import pytest

from photoprivacy.errors import ConfigError
from photoprivacy.sweeps import merge, read_sweep_table, share_groups, variant_configs

BASE = {
    "variant": "default",
    "detect": {"threshold": 0.9},
    "persons": {"rule": "corrected", "weights": {"attention": 0.7, "distance": 0.3}},
    "render": {"scenario1": {"method": "random_mosaic", "components": ["persons", "scene"]}},
    "sweep": {"variants": {}, "table": None},
}


def test_merge_replaces_nested_keys_and_keeps_the_rest():
    merged = merge(BASE, {"persons": {"weights": {"distance": 0.5}}}, "v")
    assert merged["persons"] == {"rule": "corrected", "weights": {"attention": 0.7, "distance": 0.5}}
    assert BASE["persons"]["weights"]["distance"] == 0.3  # the base is not touched


def test_merge_names_an_unknown_key():
    with pytest.raises(ConfigError, match=r"config key v.persons.weight: not a setting"):
        merge(BASE, {"persons": {"weight": 1}}, "v")


def test_variant_configs_base_first_with_names():
    sweep = {"variants": {"blur": {"render": {"scenario1": {"method": "blur"}}}}, "table": None}
    configs = variant_configs({**BASE, "sweep": sweep})
    assert list(configs) == ["default", "blur"]
    assert configs["blur"]["variant"] == "blur"
    assert configs["blur"]["render"]["scenario1"] == {"method": "blur", "components": ["persons", "scene"]}
    assert configs["blur"]["detect"] == BASE["detect"]


@pytest.mark.parametrize(
    ("variants", "message"),
    [
        ({"x": {"detect": {"threshold": 0.5}}}, r"sweep.variants.x.detect: a variant may only change"),
        ({"default": {}}, r"sweep.variants.default: 'default' is the base variant"),
        ({"a b": {}}, r"sweep.variants.a b: variant names may hold"),
    ],
)
def test_variant_configs_errors_name_the_key(variants, message):
    with pytest.raises(ConfigError, match=message):
        variant_configs({**BASE, "sweep": {"variants": variants, "table": None}})


def test_sweep_table_parses_cells_as_yaml_and_skips_empty_ones(tmp_path):
    table = tmp_path / "sweep.csv"
    table.write_text('variant,render.scenario1.components,persons.weights.distance\n'
                     'two,"[persons, w1]",\nweights,,0.5\n')
    assert read_sweep_table(table) == {
        "two": {"render": {"scenario1": {"components": ["persons", "w1"]}}},
        "weights": {"persons": {"weights": {"distance": 0.5}}},
    }
    configs = variant_configs({**BASE, "sweep": {"variants": {}, "table": str(table)}})
    assert configs["weights"]["persons"]["weights"] == {"attention": 0.7, "distance": 0.5}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("variant,render.method\n,blur\n", r"line 2: no value in column 'variant'"),
        ("variant,render.method\na,blur\na,noise\n", r"line 3: variant 'a' appears twice"),
        ("variant,render..method\na,blur\n", r"column 'render..method' is not a dotted config key"),
    ],
)
def test_sweep_table_errors_name_the_line(tmp_path, text, message):
    table = tmp_path / "sweep.csv"
    table.write_text(text)
    with pytest.raises(ConfigError, match=message):
        read_sweep_table(table)


def test_missing_sweep_table_names_the_key(tmp_path):
    with pytest.raises(ConfigError, match=r"config key sweep.table: file .* does not exist"):
        read_sweep_table(tmp_path / "none.tsv")


def test_share_groups_reuse_the_first_equal_settings_base_first():
    settings = {"blur": {"rule": "corrected"}, "default": {"rule": "corrected"},
                "nb": {"rule": "notebook"}, "nb2": {"rule": "notebook"}}
    assert share_groups(settings, "default") == {"blur": "default", "default": "default", "nb": "nb", "nb2": "nb"}
