"""One frozen dataclass per stage, validated on construction and saved beside its artifacts.

The CLI builds these from its options; library users build them directly. Values
that make no sense raise ``ConfigError`` here, before any work or any file write.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from alexedge.compress.config import QUANTIZATION_MODES, CompressConfig
from alexedge.config_base import require as _require
from alexedge.train.config import TrainConfig

__all__ = [
    "QUANTIZATION_MODES",
    "CompressConfig",
    "PipelineConfig",
    "TrainConfig",
    "config_from_dict",
    "config_to_dict",
]

C = TypeVar("C")


@dataclass(frozen=True)
class PipelineConfig:
    """The whole train -> compress -> export -> package -> report chain."""

    out: Path
    data: Path | None = None
    classes: int | None = None
    classes_file: Path | None = None
    layout: str = "auto"
    val_fraction: float = 0.1
    train: TrainConfig = field(default_factory=TrainConfig)
    compress: CompressConfig = field(default_factory=CompressConfig)
    synth_per_class: int = 400
    synth_val_per_class: int = 50
    synth_size: int = 64
    force: bool = False

    def __post_init__(self) -> None:
        _require(
            self.classes is None or self.classes >= 2,
            f"--classes must be at least 2, got {self.classes}",
        )
        _require(self.synth_per_class >= 1, "images per class must be at least 1")
        _require(
            0 < self.val_fraction < 1, f"--val-fraction must be in (0, 1), got {self.val_fraction}"
        )
        _require(
            self.classes_file is None or self.data is not None,
            "--classes-file needs --data (the built-in dataset has its own classes)",
        )


def config_to_dict(config: Any) -> dict[str, Any]:
    """JSON-ready dict (paths as strings, tuples as lists)."""
    return json.loads(json.dumps(dataclasses.asdict(config), default=str))


def config_from_dict(cls: type[C], values: dict[str, Any]) -> C:
    """Rebuild a stage config from its saved dict, refusing unknown keys."""
    names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(values) - names)
    _require(not unknown, f"unknown {cls.__name__} keys: {unknown}")
    converted = {k: tuple(v) if isinstance(v, list) else v for k, v in values.items()}
    if "out" in converted:
        converted["out"] = Path(converted["out"])
    return cls(**converted)
