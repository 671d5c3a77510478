"""Quantization-aware training with tfmot, and its pruning-preserving form (PQAT).

wrap (annotate layers, ``quantize_apply``) -> fine-tune with fake quantization ->
convert with ``convert(model, "int8", ...)``; a QAT model is never stripped, the
converter reads its quantization ranges.

``tfmot.quantization.keras.quantize_model`` refuses our models ("Layer normalize:
Normalization is not supported"): the model's first layer normalizes raw pixels.
So layers are annotated one by one (``alexedge.compress.techniques.wrap``):

* every layer tfmot's 8-bit registry supports, plus BatchNormalization, which the
  registry does not list on its own but whose Conv/Dense + BN + ReLU patterns the
  layout transforms fold (BN must be annotated to be matched; unfolded, it would
  export as separate int8 MUL/ADD ops);
* ``Normalization`` and the paper model's ``LocalResponseNorm`` with
  ``_OutputOnlyConfig``: no weights, only their output range is learned, so conv1
  sees quantized input as it will on the phone (LRN itself still runs in float in
  TFLite, which has no integer LRN kernel, between DEQUANTIZE and QUANTIZE);
* anything else (``ChannelSlice``) with ``_NoOpConfig``: it only moves values.

Pruned models use ``Default8BitPrunePreserveQuantizeScheme`` (tfmot collaborative
optimization), which keeps each kernel's zeros fixed while the rest train.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import tensorflow_model_optimization as tfmot
import tf_keras as keras
from tensorflow_model_optimization.python.core.quantization.keras import quantizers
from tensorflow_model_optimization.python.core.quantization.keras.default_8bit import (
    default_8bit_quantize_registry,
)

from alexedge.compress.config import CompressConfig
from alexedge.compress.techniques.finetune import FinetuneData, finetune
from alexedge.compress.techniques.prune import bn_images
from alexedge.compress.techniques.wrap import copy_model, wrap_layers
from alexedge.train.models.layers import LocalResponseNorm

__all__ = ["calibrate_ranges", "qat_finetune", "quantization_aware", "quantize_scope"]

_Q = tfmot.quantization.keras
_REGISTRY = default_8bit_quantize_registry.Default8BitQuantizeRegistry()
# Weightless layers that change the range of values: their output range is learned.
_RESCALING_LAYERS = (keras.layers.Normalization, LocalResponseNorm)
# Names tfmot gives the range variables of activation (not weight) quantizers; a
# QuantizeLayer's are named after the layer itself.
_ACTIVATION_QUANTIZERS = ("output", "post_activation", "pre_activation")


class _OutputOnlyConfig(_Q.QuantizeConfig):
    """Quantize a weightless layer's output with a learned (moving-average) range."""

    def get_weights_and_quantizers(self, layer: Any) -> list:
        return []

    def get_activations_and_quantizers(self, layer: Any) -> list:
        return []

    def set_quantize_weights(self, layer: Any, quantize_weights: list) -> None:
        pass

    def set_quantize_activations(self, layer: Any, quantize_activations: list) -> None:
        pass

    def get_output_quantizers(self, layer: Any) -> list:
        return [
            quantizers.MovingAverageQuantizer(
                num_bits=8, per_axis=False, symmetric=False, narrow_range=False
            )
        ]

    def get_config(self) -> dict[str, Any]:
        return {}


class _NoOpConfig(_OutputOnlyConfig):
    """Leave a layer in float: TFLite calibrates its ranges on the representative images."""

    def get_output_quantizers(self, layer: Any) -> list:
        return []


def quantize_scope() -> Any:
    """The scope in which QAT models are cloned, saved and loaded."""
    return _Q.quantize_scope({"_OutputOnlyConfig": _OutputOnlyConfig, "_NoOpConfig": _NoOpConfig})


def _annotate(layer: keras.layers.Layer) -> keras.layers.Layer:
    if isinstance(layer, _RESCALING_LAYERS):
        return _Q.quantize_annotate_layer(layer, _OutputOnlyConfig())
    if isinstance(layer, keras.layers.BatchNormalization) or _REGISTRY.supports(layer):
        return _Q.quantize_annotate_layer(layer)
    # Unknown layers that only move values (ChannelSlice) keep their input's range.
    # Every layer is annotated: the prune-preserving scheme asks its registry about
    # each one and refuses unannotated layers it does not know.
    return _Q.quantize_annotate_layer(layer, _NoOpConfig())


def quantization_aware(model: keras.Model, preserve_sparsity: bool = False) -> keras.Model:
    """A fake-quantized copy of ``model``, ready to fine-tune; ``model`` is untouched."""
    annotated = wrap_layers(model, _annotate)
    scheme = (
        tfmot.experimental.combine.Default8BitPrunePreserveQuantizeScheme()
        if preserve_sparsity
        else _Q.default_8bit.Default8BitQuantizeScheme()
    )
    with quantize_scope():
        return _Q.quantize_apply(annotated, scheme)


def calibrate_ranges(qat: keras.Model, source: keras.Model, images: np.ndarray) -> None:
    """Start every activation range of ``qat`` at what ``source`` produces on ``images``.

    tfmot starts each range at [-6, 6] and moves it by an exponential average with
    decay 0.999 per training step, so a fine-tune of a few hundred steps ends with
    ranges still near their start: raw pixels clipped to 6, ReLU outputs above 6
    clipped, and the exported file far from both the float and the QAT model. The
    min/max over the images (always including 0, as TFLite requires) is what
    post-training calibration would pick, a good place for training to start from.
    """
    targets = _range_targets(qat)
    # A fresh copy: layers reused by ``wrap_layers`` have nodes in several graphs, so
    # their ``.output`` may belong to another model.
    source = copy_model(source)
    probe = keras.Model(source.inputs, [source.get_layer(n).output for n in targets])
    outputs = probe.predict(images, batch_size=64, verbose=0)
    for name, values in zip(targets, outputs if len(targets) > 1 else [outputs], strict=True):
        for low, high in targets[name]:
            low.assign(min(float(np.min(values)), 0.0))
            high.assign(max(float(np.max(values)), 0.0))


def _range_targets(qat: keras.Model) -> dict[str, list[tuple[Any, Any]]]:
    """Source-model layer name -> the (min, max) variables that quantize its output."""
    targets: dict[str, list[tuple[Any, Any]]] = {}
    for layer in qat.layers:
        pairs = _activation_ranges(layer)
        if not pairs:
            continue
        if isinstance(layer, _Q.QuantizeWrapperV2):
            name = layer.layer.name
        else:  # a QuantizeLayer quantizes its input: the output of the layer before it
            name = layer._inbound_nodes[0].inbound_layers.name
        targets.setdefault(name, []).extend(pairs)
    return targets


def _activation_ranges(layer: keras.layers.Layer) -> list[tuple[Any, Any]]:
    found = {w.name.split("/")[-1].split(":")[0]: w for w in layer.non_trainable_weights}
    return [
        (found[f"{prefix}_min"], found[f"{prefix}_max"])
        for prefix in (*_ACTIVATION_QUANTIZERS, layer.name)
        if f"{prefix}_min" in found and f"{prefix}_max" in found
    ]


def qat_finetune(
    model: keras.Model, data: FinetuneData, config: CompressConfig, preserve_sparsity: bool
) -> keras.Model:
    """wrap -> calibrate ranges -> fine-tune at ``config.adapt_learning_rate``.

    Returns the QAT model itself: the converter reads its ranges, nothing to strip.
    """
    qat = quantization_aware(model, preserve_sparsity)
    calibrate_ranges(qat, model, bn_images(data, count=256))
    finetune(qat, data, config, learning_rate=config.adapt_learning_rate)
    return qat
