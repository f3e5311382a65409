"""Errors the library raises on purpose, each with a message that names the culprit."""


class ConfigError(ValueError):
    """A configuration value is wrong; the message names the config key."""


class ImageRejected(Exception):
    """An image could not be decoded; ``reason`` is what a person reads in the summary."""

    def __init__(self, path, reason):
        super().__init__(f"{path}: {reason}")
        self.path = str(path)
        self.reason = reason


class VideoRejected(ImageRejected):
    """A video could not be decoded; an ``ImageRejected`` so that every handler of a rejected
    input handles it, with ``reason`` for the summary as for a photo."""


class ModelNotAvailable(RuntimeError):
    """Model files are missing locally and could not be fetched."""
