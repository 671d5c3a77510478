"""One exception family, so the CLI can turn every expected failure into one line.

Anything raised as an ``AlexEdgeError`` is a problem with the user's input or
environment that they can act on; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

__all__ = ["AlexEdgeError", "ConfigError", "DataError", "ModelError"]


class AlexEdgeError(Exception):
    """Base class: the message names the file or value and what to do about it."""


class ConfigError(AlexEdgeError):
    """An option or configuration value is out of range or inconsistent."""


class DataError(AlexEdgeError):
    """A dataset, folder or image cannot be used."""


class ModelError(AlexEdgeError):
    """A model file or model name cannot be used."""
