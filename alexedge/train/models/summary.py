"""Size and cost of a model: parameters and multiply-accumulates, for reports and the CLI.

MACs count one multiply-add per kernel weight per output position of Conv/Dense layers
(the convention of the papers' "FLOPs" tables divided by two); biases, activations,
pooling and normalization are left out because they are a rounding error next to them.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import tf_keras as keras

from alexedge.train.models.registry import build_model, list_models

__all__ = ["ModelRow", "ModelStats", "describe_models", "layer_macs", "model_stats"]

_L = keras.layers


@dataclass(frozen=True)
class ModelStats:
    """``params``: every weight except the input ``Normalization`` layer's mean, variance
    and count (preprocessing constants, not learned) and tfmot wrappers' masks and
    quantizer ranges; includes batch-norm moving statistics, which export folds into the
    convolutions. ``trainable``: weights the optimizer updates. ``macs``:
    multiply-accumulates for one image."""

    params: int
    trainable: int
    macs: int


@dataclass(frozen=True)
class ModelRow:
    """One line of ``alexedge models``: a registered model at its default build."""

    name: str
    input_size: int
    num_classes: int
    params: int
    macs: int
    description: str


def _leaf_layers(model: keras.Model) -> Iterator[keras.layers.Layer]:
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            yield from _leaf_layers(layer)
        else:
            yield layer


def _count(weights: list) -> int:
    unique = {id(w): w for w in weights}.values()
    return sum(math.prod(w.shape) for w in unique)


def _model_weights(layer: keras.layers.Layer) -> list:
    if isinstance(layer, _L.Normalization):
        return []
    # A tfmot wrapper's own variables (pruning masks, quantizer ranges) are bookkeeping.
    return layer.layer.weights if isinstance(layer, _L.Wrapper) else layer.weights


def layer_macs(layer: keras.layers.Layer) -> int:
    """Multiply-accumulates of one layer for one image (0 for layers without a kernel)."""
    # tfmot's prune/quantize wrappers keep the real layer in ``.layer``, same output shape.
    inner = layer.layer if isinstance(layer, _L.Wrapper) else layer
    out_positions = math.prod(layer.output_shape[1:-1])
    if isinstance(inner, _L.SeparableConv2D):
        kernels = inner.depthwise_kernel.shape, inner.pointwise_kernel.shape
        return out_positions * sum(math.prod(k) for k in kernels)
    if isinstance(inner, _L.DepthwiseConv2D):
        return out_positions * math.prod(inner.depthwise_kernel.shape)
    if isinstance(inner, (_L.Conv1DTranspose, _L.Conv2DTranspose, _L.Conv3DTranspose)):
        # Each input position scatters the whole kernel.
        return math.prod(layer.input_shape[1:-1]) * math.prod(inner.kernel.shape)
    if isinstance(inner, (_L.Conv1D, _L.Conv2D, _L.Conv3D, _L.Dense)):
        # The kernel holds, per output position, every (input, output) weight pair; for
        # a grouped kernel that is already the reduced fan-in.
        return out_positions * math.prod(inner.kernel.shape)
    return 0


def model_stats(model: keras.Model) -> ModelStats:
    """Parameters and multiply-accumulates of a built Functional/Sequential model."""
    layers = list(_leaf_layers(model))
    return ModelStats(
        params=_count([w for layer in layers for w in _model_weights(layer)]),
        trainable=_count(model.trainable_weights),
        macs=sum(layer_macs(layer) for layer in layers),
    )


def describe_models() -> list[ModelRow]:
    """Build every registered model at its defaults and measure it.

    Defaults are the registry's: 227x227 and 1000 classes for ``alexnet`` (the paper's
    ImageNet setting), 64x64 and 20 classes for the others (the 20-class subsets).
    Building the full AlexNet allocates its 61M weights for a moment (~250 MB).
    """
    rows = []
    for spec in list_models():
        model = build_model(spec.name, spec.default_num_classes, spec.default_input_size)
        stats = model_stats(model)
        rows.append(
            ModelRow(
                spec.name,
                spec.default_input_size,
                spec.default_num_classes,
                stats.params,
                stats.macs,
                spec.description,
            )
        )
        del model
    return rows
