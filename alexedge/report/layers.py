"""The per-layer table: parameters and multiply-adds of the trained model, zeros per file.

Parameters and multiply-adds come from the Keras model (``best.keras``); sparsity
comes from each exported ``.tflite`` file itself, so it shows what survived batch-norm
folding, quantization and conversion. Weight tensors are matched to Keras layers by
name: the converter names a kernel after the op that used it
(``alexnet_reduced/conv2/Conv2D``, ``.../fc7_bn/batchnorm/mul_1`` once batch norm is
folded into ``fc7``), so a path component equal to a layer's name, or starting with
it and ``_``, identifies the layer; the element count must match the Keras kernel too.
A tensor that matches no layer is not counted, and the table says so with ``-``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["LayerRow", "file_layer_zeros", "layer_rows"]


@dataclass(frozen=True)
class LayerRow:
    name: str
    kind: str
    parameters: int
    macs: int
    # variant name -> share of zeros in this layer's weights in that file; None: not found
    sparsity: dict[str, float | None] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "layer": self.name,
            "kind": self.kind,
            "parameters": self.parameters,
            "macs": self.macs,
            "sparsity": dict(self.sparsity),
        }


def layer_rows(model: Any, files: Mapping[str, bytes]) -> list[LayerRow]:
    """One row per Conv2D/Dense layer of ``model``, with its sparsity in each of ``files``.

    A last row ``(other layers)`` holds the remaining parameters (batch norm, which
    export folds into the kernels), so the column sums to the model's parameter count.
    """
    from alexedge.compress.techniques.wrap import weight_layers
    from alexedge.train.models.summary import layer_macs, model_stats

    layers = weight_layers(model)
    kernels = {layer.name: int(np.prod(layer.kernel.shape)) for layer in layers}
    zeros = {name: file_layer_zeros(data, kernels) for name, data in files.items()}
    rows = [
        LayerRow(
            layer.name,
            type(layer).__name__,
            int(layer.count_params()),
            int(layer_macs(layer)),
            {v: _share(counts.get(layer.name)) for v, counts in zeros.items()},
        )
        for layer in layers
    ]
    stats = model_stats(model)
    other_params = stats.params - sum(r.parameters for r in rows)
    other_macs = stats.macs - sum(r.macs for r in rows)
    if other_params or other_macs:
        rows.append(LayerRow("(other layers)", "", other_params, other_macs, {}))
    return rows


def _share(counts: tuple[int, int] | None) -> float | None:
    return None if counts is None else counts[1] / counts[0]


def file_layer_zeros(tflite_bytes: bytes, kernels: Mapping[str, int]) -> dict[str, tuple[int, int]]:
    """``{layer: (weights, zeros)}`` for the constant tensors of the file matched to layers.

    ``kernels`` maps each layer name to its kernel's element count.
    """
    from alexedge.compress.export.tflite_weights import weight_tensors

    counts: dict[str, tuple[int, int]] = {}
    # Every rank >= 2 constant, however small: a layer is matched by name and size.
    for name, shape, values in weight_tensors(tflite_bytes, min_elements=1):
        layer = _layer_of(name, int(np.prod(shape)), kernels)
        if layer is None:
            continue
        total, zeros = counts.get(layer, (0, 0))
        counts[layer] = (total + values.size, zeros + values.size - np.count_nonzero(values))
    return counts


def _layer_of(tensor_name: str, size: int, kernels: Mapping[str, int]) -> str | None:
    parts = re.split(r"[;/]", tensor_name)
    matches = [
        layer
        for layer, kernel_size in kernels.items()
        if kernel_size == size and any(p == layer or p.startswith(f"{layer}_") for p in parts)
    ]
    return max(matches, key=len, default=None)
