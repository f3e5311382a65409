"""Sweep variants: named overrides of the rendering-side settings.

A variant is the base configuration with some keys of ``VARIANT_SECTIONS``
replaced. Variants come from ``sweep.variants`` (name -> nested overrides)
and from ``sweep.table`` (a CSV/TSV with a ``variant`` column and one column
per dotted key, e.g. ``render.scenario1.method``; an empty cell keeps the
base value). Model stages never depend on them, so a new variant reuses
every model artifact; stages between the models and rendering (persons,
faces, fakes, masks) are shared by all variants whose settings for them are
equal.
"""

import copy
import csv
import json
import re
from pathlib import Path

import yaml

from .errors import ConfigError

# The sections a variant may change: everything after the model stages.
VARIANT_SECTIONS = ("persons", "faces", "fakes", "masks", "render")
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*\Z")


def merge(base, overrides, where):
    """``base`` with ``overrides`` applied recursively; a key missing from base is an error."""
    merged = copy.deepcopy(base)
    for key, value in overrides.items():
        if key not in merged:
            raise ConfigError(f"config key {where}.{key}: not a setting (expected one of {sorted(merged)})")
        if isinstance(value, dict) and isinstance(merged[key], dict):
            merged[key] = merge(merged[key], value, f"{where}.{key}")
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def dotted_to_nested(row, where):
    """{"render.scenario1.method": "blur"} -> {"render": {"scenario1": {"method": "blur"}}}."""
    nested = {}
    for dotted, value in row.items():
        parts = dotted.split(".")
        if any(not part for part in parts):
            raise ConfigError(f"{where}: column '{dotted}' is not a dotted config key")
        node = nested
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return nested


def read_sweep_table(path):
    """Variant name -> nested overrides from a CSV (or tab-separated .tsv) file.

    Cells are parsed as YAML, so ``[persons, w1]``, ``0.5`` and ``true`` keep their types.
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config key sweep.table: file '{path}' does not exist")
    delimiter = "\t" if path.suffix.lower() in (".tsv", ".tab") else ","
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle, delimiter=delimiter))
    variants = {}
    for number, row in enumerate(rows, start=2):
        where = f"sweep table {path}, line {number}"
        name = (row.pop("variant", None) or "").strip()
        if not name:
            raise ConfigError(f"{where}: no value in column 'variant'")
        if name in variants:
            raise ConfigError(f"{where}: variant '{name}' appears twice")
        cells = {key.strip(): yaml.safe_load(value) for key, value in row.items() if value and value.strip()}
        variants[name] = dotted_to_nested(cells, where)
    return variants


def declared_variants(sweep):
    """Variant name -> overrides, from ``sweep.variants`` then ``sweep.table``."""
    variants = dict(sweep.get("variants") or {})
    if sweep.get("table"):
        for name, overrides in read_sweep_table(sweep["table"]).items():
            if name in variants:
                raise ConfigError(f"config key sweep: variant '{name}' is declared in sweep.variants and sweep.table")
            variants[name] = overrides
    return variants


def variant_configs(config):
    """Variant name -> full configuration; the base variant (``config['variant']``) first."""
    base_name = config["variant"]
    configs = {base_name: config}
    for name, overrides in declared_variants(config.get("sweep") or {}).items():
        where = f"sweep.variants.{name}"
        if not NAME_PATTERN.match(name):
            raise ConfigError(f"config key {where}: variant names may hold letters, digits, '.', '_', '-'")
        if name == base_name:
            raise ConfigError(f"config key {where}: '{name}' is the base variant (config key variant)")
        unknown = sorted(set(overrides or {}) - set(VARIANT_SECTIONS))
        if unknown:
            raise ConfigError(
                f"config key {where}.{unknown[0]}: a variant may only change {', '.join(VARIANT_SECTIONS)}"
            )
        configs[name] = {**merge(config, overrides or {}, where), "variant": name}
    return configs


def settings_key(settings):
    return json.dumps(settings, sort_keys=True)


def share_groups(settings, base):
    """Variant -> the variant whose stage outputs it reuses.

    ``settings`` maps each variant to what the stage's output depends on;
    variants with equal settings share the first one's outputs (the base
    variant's when equal to it).
    """
    owners = {}
    order = [base, *(name for name in settings if name != base)]
    groups = {}
    for name in order:
        groups[name] = owners.setdefault(settings_key(settings[name]), name)
    return {name: groups[name] for name in settings}
