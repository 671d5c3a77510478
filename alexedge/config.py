"""What every stage config shares: validation on construction and a JSON form beside its artifacts.

Each stage has one frozen dataclass next to the code it configures (``TrainConfig`` in
``train/config.py``, ``CompressConfig`` in ``compress/config.py``, ``PackageConfig`` in
``android_assets``); ``PipelineConfig`` in ``pipeline.py`` holds the stage configs rather
than repeating their fields. They all validate with ``require`` in ``__post_init__``, so a
bad value raises ``ConfigError`` before any work or file write, and they are saved and read
back with the two functions below. This module imports no stage, so every stage can import
it without a cycle.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

from alexedge.errors import ConfigError

__all__ = ["config_from_dict", "config_to_dict", "require"]

C = TypeVar("C")


def require(condition: bool, message: str) -> None:
    """Raise ``ConfigError(message)`` unless ``condition``: bad values fail before any work."""
    if not condition:
        raise ConfigError(message)


def config_to_dict(config: Any) -> dict[str, Any]:
    """JSON-ready dict (nested configs as dicts, paths as strings, tuples as lists)."""
    return json.loads(json.dumps(dataclasses.asdict(config), default=str))


def config_from_dict(cls: type[C], values: Mapping[str, Any]) -> C:
    """Rebuild a config from its saved dict (JSON or TOML), refusing unknown keys.

    JSON and TOML know neither tuples, paths nor dataclasses, so each value is turned
    back into what its field's type says: a nested config from its table, a tuple from
    a list, a ``Path`` from a string. Keys written by older versions are first brought
    to today's form by the class's ``upgrade_saved_keys`` classmethod, if it has one, so
    old run folders keep loading.
    """
    upgrade = getattr(cls, "upgrade_saved_keys", None)
    values = upgrade(dict(values)) if upgrade is not None else dict(values)
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]  # type: ignore[arg-type]
    unknown = sorted(set(values) - set(names))
    require(not unknown, f"unknown {cls.__name__} keys {unknown}")
    return cls(**{k: _from_saved(hints[k], v) for k, v in values.items()})


def _from_saved(hint: Any, value: Any) -> Any:
    """``value`` as read from JSON/TOML, turned into the type ``hint`` names."""
    if value is None:
        return None
    for kind in _types_of(hint):
        if dataclasses.is_dataclass(kind) and isinstance(value, Mapping):
            return config_from_dict(kind, value)
        if kind is tuple and isinstance(value, list):
            return tuple(value)
        if kind is Path and isinstance(value, str):
            return Path(value)
    return value


def _types_of(hint: Any) -> tuple[Any, ...]:
    """The classes a hint allows: ``Path | None`` -> (Path, NoneType); ``tuple[int, ...]``
    -> (tuple,)."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return tuple(t for arg in typing.get_args(hint) for t in _types_of(arg))
    return (origin or hint,)
