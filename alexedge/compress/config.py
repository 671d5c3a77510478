"""``CompressConfig``: pruning fine-tune and TFLite export settings."""

from __future__ import annotations

from dataclasses import dataclass

from alexedge.config_base import require as _require

__all__ = ["QUANTIZATION_MODES", "CompressConfig"]

QUANTIZATION_MODES = ("float32", "dynamic", "float16", "int8")


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
