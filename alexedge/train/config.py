"""``TrainConfig``: everything that defines a training run, saved as ``RUN/config.json``."""

from __future__ import annotations

from dataclasses import dataclass

from alexedge.config_base import require as _require

__all__ = ["TrainConfig"]


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
