"""The one validation helper every stage config uses in ``__post_init__``."""

from __future__ import annotations

from alexedge.errors import ConfigError

__all__ = ["require"]


def require(condition: bool, message: str) -> None:
    """Raise ``ConfigError(message)`` unless ``condition``: bad values fail before any work."""
    if not condition:
        raise ConfigError(message)
