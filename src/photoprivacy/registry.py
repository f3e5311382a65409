"""Named implementations of a pluggable family (captioners, detectors, obfuscation methods ...).

A family keeps one ``Registry``; an implementation joins it with one registration,
``@FAMILY.register("name", ...)`` over its class or function, which also declares
what the workflow must know to plan a job with it (an ``Entry``): the config keys
it reads, its model family, whether it runs on the device. The workflow builds
every stage's params and model inputs from these declarations (``settings``),
so adding an implementation touches no .smk file. The config key that chooses an
implementation takes any registered name: a run with another one stops at start
with the key and the choices (``check_choice``).

An implementation in a module that imports torch is registered by path with
``declare("name", "module:attribute", ...)`` from a light module, so planning a
run never imports torch.
"""

import importlib
from dataclasses import dataclass


@dataclass(frozen=True)
class Entry:
    """What one implementation declares.

    ``keys``: keys of the registry's config section that only this implementation reads (a
    stage's params hold the chosen implementation's keys and none of the others').
    ``execution``: execution.* keys it reads. ``model``: the model family it loads (None: no
    model folder). ``device``: it runs on the device (CUDA when present): its jobs ask for a
    GPU and their params hold execution.device. ``required``: of ``keys``, those that must be
    set when it is chosen. ``files``: of ``keys``, those naming a file the job reads.
    ``resolve``: key -> function of the key's value, for a value that stands for something
    found at planning (spaCy's ``auto``): the params hold what it resolves to.
    """

    name: str
    keys: tuple = ()
    execution: tuple = ()
    model: str | None = None
    device: bool = False
    required: tuple = ()
    files: tuple = ()
    resolve: tuple = ()  # (key, function) pairs: an Entry stays hashable


class Registry:
    """Names -> implementations of one family, in the order they were registered."""

    def __init__(self, family, config_key):
        self.family = family
        self.config_key = config_key  # the key whose value names an implementation
        self.section, _, self.choice_key = config_key.rpartition(".")
        self._entries = {}
        self._implementations = {}

    def register(self, name, **declared):
        """Decorator: add the class or function under ``name``, with what it declares (``Entry``)."""

        def add(implementation):
            self._add(name, implementation, declared)
            return implementation

        return add

    def declare(self, name, where, **declared):
        """Add the ``"module:attribute"`` ``where`` under ``name``, imported when first used."""
        self._add(name, where, declared)

    def _add(self, name, implementation, declared):
        if name in self._entries:
            raise ValueError(f"{self.family} '{name}' is registered twice")
        declared["resolve"] = tuple(declared.get("resolve", {}).items())
        self._entries[name] = Entry(name, **declared)
        self._implementations[name] = implementation

    def __getitem__(self, name):
        self.entry(name)
        implementation = self._implementations[name]
        if isinstance(implementation, str):
            module, attribute = implementation.split(":")
            implementation = self._implementations[name] = getattr(importlib.import_module(module), attribute)
        return implementation

    def entry(self, name, where=""):
        """What the implementation ``name`` declared; ``where`` prefixes the config key in errors
        (a sweep variant's "sweep.variants.<name>.")."""
        try:
            return self._entries[name]
        except KeyError:
            raise ValueError(
                f"unknown {self.family} '{name}' (config key {where}{self.config_key}: one of {', '.join(self.names)})"
            ) from None

    def __contains__(self, name):
        return name in self._entries

    @property
    def names(self):
        return tuple(self._entries)

    def section_of(self, config):
        """The config section holding the choice (``detect`` for detect.method)."""
        for part in self.section.split("."):
            config = config[part]
        return config

    def chosen(self, config, where=""):
        """The entry of the implementation ``config`` chooses, with its ``required`` keys set."""
        section = self.section_of(config)
        entry = self.entry(section[self.choice_key], where)
        for key in entry.required:
            if section[key] in (None, "", []):
                raise ValueError(
                    f"config key {where}{self.section}.{key}: required when {self.config_key} is '{entry.name}'"
                )
        return entry

    def settings(self, config):
        """The config section without the keys that only other implementations read, each
        ``resolve`` key resolved: what a stage's params hold of it, so that changing a key the
        chosen implementation ignores reruns nothing."""
        section, entry = self.section_of(config), self.chosen(config)
        others = {key for other in self._entries.values() for key in other.keys} - set(entry.keys)
        settings = {key: value for key, value in section.items() if key not in others}
        for key, resolve in entry.resolve:
            settings[key] = resolve(settings[key])
        return settings

    def execution(self, config):
        """The execution keys the chosen implementation reads (execution.device on the device)."""
        entry = self.chosen(config)
        keys = ("device", *entry.execution) if entry.device else entry.execution
        return {key: config["execution"][key] for key in dict.fromkeys(keys)}

    def files(self, config):
        """The files the chosen implementation reads, named by its ``files`` keys."""
        section = self.section_of(config)
        return [section[key] for key in self.chosen(config).files]
