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

from alexedge.errors import ConfigError

__all__ = [
    "QUANTIZATION_MODES",
    "CompressConfig",
    "PipelineConfig",
    "TrainConfig",
    "config_from_dict",
    "config_to_dict",
]

QUANTIZATION_MODES = ("float32", "dynamic", "float16", "int8")
C = TypeVar("C")


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise ConfigError(message)


@dataclass(frozen=True)
class TrainConfig:
    """Recipe for training one model; defaults are the built-in pipeline's."""

    model: str = "alexnet-reduced"
    input_size: int = 64
    width: float = 0.25
    fc_units: int = 512
    dropout: float = 0.3
    epochs: int = 15
    batch_size: int = 128
    learning_rate: float = 0.1
    warmup_epochs: int = 1
    momentum: float = 0.9
    weight_decay: float = 5e-4
    label_smoothing: float = 0.1
    pca_lighting: float = 0.1
    seed: int = 0

    def __post_init__(self) -> None:
        _require(self.epochs >= 1, f"--epochs must be at least 1, got {self.epochs}")
        _require(self.batch_size >= 1, f"batch size must be at least 1, got {self.batch_size}")
        _require(self.input_size >= 16, f"input size must be at least 16, got {self.input_size}")
        _require(self.learning_rate > 0, f"learning rate must be > 0, got {self.learning_rate}")
        _require(0 < self.width <= 4, f"width must be in (0, 4], got {self.width}")
        _require(0 <= self.dropout < 1, f"dropout must be in [0, 1), got {self.dropout}")
        _require(0 <= self.label_smoothing < 1, "label smoothing must be in [0, 1)")
        _require(self.warmup_epochs >= 0, "warmup epochs must be >= 0")
        _require(self.weight_decay >= 0, "weight decay must be >= 0")
        _require(self.pca_lighting >= 0, "PCA lighting sigma must be >= 0")


@dataclass(frozen=True)
class CompressConfig:
    """Pruning fine-tune and TFLite export of a trained model."""

    sparsity: float = 0.75
    finetune_epochs: int = 3
    finetune_learning_rate: float = 0.01
    skip_layers: tuple[str, ...] = ("conv1",)
    quantize: tuple[str, ...] = QUANTIZATION_MODES
    calibration_images: int = 200
    seed: int = 0

    def __post_init__(self) -> None:
        _require(0 <= self.sparsity < 1, f"sparsity must be in [0, 1), got {self.sparsity}")
        _require(self.finetune_epochs >= 1, "fine-tune epochs must be at least 1")
        _require(self.calibration_images >= 1, "need at least 1 calibration image")
        unknown = sorted(set(self.quantize) - set(QUANTIZATION_MODES))
        _require(
            not unknown, f"unknown quantization mode(s) {unknown}; known: {QUANTIZATION_MODES}"
        )


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
