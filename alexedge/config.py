"""What every stage config shares: validation on construction and a JSON form beside its artifacts.

Each stage has one frozen dataclass next to the code it configures (``TrainConfig`` in
``train/config.py``, ``CompressConfig`` in ``compress/config.py``, ``PackageConfig`` in
``android_assets``, ``PipelineConfig`` in ``pipeline.py``); they all validate with
``require`` in ``__post_init__``, so a bad value raises ``ConfigError`` before any work or
file write, and they are saved and read back with the two functions below. This module
imports no stage, so every stage can import it without a cycle.
"""

from __future__ import annotations

import dataclasses
import json
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
    """JSON-ready dict (paths as strings, tuples as lists)."""
    return json.loads(json.dumps(dataclasses.asdict(config), default=str))


def config_from_dict(cls: type[C], values: dict[str, Any]) -> C:
    """Rebuild a stage config from its saved dict, refusing unknown keys."""
    names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(values) - names)
    require(not unknown, f"unknown {cls.__name__} keys: {unknown}")
    converted = {k: tuple(v) if isinstance(v, list) else v for k, v in values.items()}
    if "out" in converted:
        converted["out"] = Path(converted["out"])
    return cls(**converted)
