"""Named implementations of a pluggable family (captioners, detectors, obfuscation methods ...).

A family keeps one ``Registry``; an implementation joins it with one line,
``@FAMILY.register("name")`` over its class or function. The config key that
chooses it lists the same names as its schema ``enum`` (``tests/test_registries.py``
checks that they agree), and a stage builds what the config names with
``FAMILY[name]``.
"""


class Registry:
    """Names -> implementations of one family, in the order they were registered."""

    def __init__(self, family, config_key):
        self.family = family
        self.config_key = config_key  # the key whose value names an implementation
        self._entries = {}

    def register(self, name):
        """Decorator: add the class or function under ``name``."""

        def add(implementation):
            if name in self._entries:
                raise ValueError(f"{self.family} '{name}' is registered twice")
            self._entries[name] = implementation
            return implementation

        return add

    def __getitem__(self, name):
        try:
            return self._entries[name]
        except KeyError:
            raise ValueError(
                f"unknown {self.family} '{name}' (config key {self.config_key}: one of {', '.join(self.names)})"
            ) from None

    def __contains__(self, name):
        return name in self._entries

    @property
    def names(self):
        return tuple(self._entries)
