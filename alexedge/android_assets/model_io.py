"""The input and output tensors of a ``.tflite`` file, read from the file itself.

The bundle describes what the model really takes, not what ``variants.json`` says
it takes: the manifest, the metadata checks and ``USAGE.md`` all read these.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from alexedge.edge_runtime import load_interpreter
from alexedge.errors import ModelError

__all__ = ["ModelIO", "TensorInfo", "read_model_io"]


@dataclass(frozen=True)
class TensorInfo:
    shape: tuple[int, ...]
    dtype: str
    scale: float
    zero_point: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "shape": list(self.shape),
            "dtype": self.dtype,
            "quantization": {"scale": self.scale, "zero_point": self.zero_point},
        }


@dataclass(frozen=True)
class ModelIO:
    input: TensorInfo
    output: TensorInfo

    @property
    def input_size(self) -> int:
        return self.input.shape[1]

    @property
    def num_classes(self) -> int:
        return int(np.prod(self.output.shape[1:]))


def read_model_io(model_path: Path) -> ModelIO:
    """One square RGB image input and one score vector output, or ``ModelError``."""
    interpreter, _ = load_interpreter(model_path)
    inputs, outputs = interpreter.get_input_details(), interpreter.get_output_details()
    if len(inputs) != 1 or len(outputs) != 1:
        raise ModelError(
            f"{model_path}: an image classifier has one input and one output, this model has "
            f"{len(inputs)} and {len(outputs)}"
        )
    io = ModelIO(_info(inputs[0]), _info(outputs[0]))
    shape = io.input.shape
    if len(shape) != 4 or shape[1] != shape[2] or shape[3] != 3:
        raise ModelError(f"{model_path}: expected an (N, S, S, 3) RGB image input, got {shape}")
    return io


def _info(details: dict[str, Any]) -> TensorInfo:
    scale, zero_point = details.get("quantization", (0.0, 0))
    return TensorInfo(
        shape=tuple(int(d) for d in details["shape"]),
        dtype=np.dtype(details["dtype"]).name,
        scale=float(scale),
        zero_point=int(zero_point),
    )
