"""4-bit-weight-aware fine-tuning: the int4 export's rounding trained for, zeros kept.

Why: int4 applied after fine-tuning (``alexedge.compress.export.int4``) rounds each kernel to
15 levels per output channel, and on a pruned ``alexnet-reduced`` that cost 0.4-1.9 pt
of top-1 on top of pruning. tfmot's QAT schemes are 8-bit (and their pruning-preserving
one is 8-bit only), so this module trains with the int4 grid itself: each Conv2D/Dense
kernel passes through a fake quantizer (tfmot's ``QuantizeWrapperV2`` with a
weight-only ``QuantizeConfig``; activations stay float, as in the weight-only int4
file) and gradients pass straight through it.

The grid is the one litert-quantizer's weight-only int4 uses: symmetric, one scale per
output channel, ``scale = max|w| / 7``, levels -7..7. Folding batch norm into a kernel
(what the TFLite converter does) multiplies each output channel by one number, which
scales that channel's grid with it, so the stripped model's kernels land on the
exported file's grid exactly and the int4 file computes what the Keras model does.

Pruning zeros are kept by a fixed mask inside the quantizer: a masked weight is zero in
the forward pass and gets no gradient, so a pruned model stays as sparse as it was.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import tensorflow as tf
import tensorflow_model_optimization as tfmot
import tf_keras as keras
from tensorflow_model_optimization.python.core.quantization.keras import quantizers

from alexedge.compress.config import CompressConfig
from alexedge.compress.techniques.finetune import FinetuneData, finetune
from alexedge.compress.techniques.prune import refresh_batch_norm
from alexedge.compress.techniques.wrap import PRUNABLE, copy_model, wrap_layers

__all__ = ["int4_aware", "int4_grid", "qat4_finetune", "strip_int4_aware"]

_NONZERO = "nonzero_mask"


def int4_grid(kernel: tf.Tensor) -> tf.Tensor:
    """``kernel`` rounded to ``max|w| / 7`` steps per output channel (the last axis).

    The bound is held constant for the gradient: the straight-through estimator then
    passes every weight's gradient unchanged (none is clipped, the bound is its max).
    """
    axes = list(range(kernel.shape.rank - 1))
    bound = tf.stop_gradient(tf.maximum(tf.reduce_max(tf.abs(kernel), axis=axes), 1e-9))
    return tf.quantization.fake_quant_with_min_max_vars_per_channel(
        kernel, -bound, bound, num_bits=4, narrow_range=True
    )


def _masked_grid(kernel: tf.Tensor, nonzero: tf.Tensor) -> tf.Tensor:
    """What a wrapped layer computes with, in training and when stripped alike."""
    return int4_grid(kernel * nonzero)


class _MaskedInt4Kernel(quantizers.Quantizer):
    """A kernel times its fixed non-zero mask, on the int4 grid."""

    def build(self, tensor_shape: Any, name: str, layer: Any) -> dict[str, tf.Variable]:
        mask = layer.add_weight(
            f"{name}_{_NONZERO}", shape=tensor_shape, initializer="ones", trainable=False
        )
        return {_NONZERO: mask}

    def __call__(self, inputs: tf.Tensor, training: Any, weights: dict, **kwargs: Any) -> Any:
        return _masked_grid(inputs, weights[_NONZERO])

    def get_config(self) -> dict[str, Any]:
        return {}


class _Int4WeightsConfig(tfmot.quantization.keras.QuantizeConfig):
    """Weight-only: the kernel goes through ``_MaskedInt4Kernel``; outputs stay float."""

    def get_weights_and_quantizers(self, layer: Any) -> list:
        return [(layer.kernel, _MaskedInt4Kernel())]

    def get_activations_and_quantizers(self, layer: Any) -> list:
        return []

    def set_quantize_weights(self, layer: Any, quantize_weights: list) -> None:
        layer.kernel = quantize_weights[0]

    def set_quantize_activations(self, layer: Any, quantize_activations: list) -> None:
        pass

    def get_output_quantizers(self, layer: Any) -> list:
        return []

    def get_config(self) -> dict[str, Any]:
        return {}


def _wrapped(model: keras.Model) -> list[Any]:
    return [
        layer
        for layer in model.layers
        if isinstance(layer, tfmot.quantization.keras.QuantizeWrapperV2)
    ]


def _shadow_kernel(wrapper: Any) -> tf.Variable:
    # During a call the wrapped layer's ``kernel`` attribute is the quantized tensor;
    # the trained float variable is among the wrapper's weights, named ``<layer>/kernel``.
    return next(w for w in wrapper.weights if w.name.endswith("/kernel:0"))


def _mask(wrapper: Any) -> tf.Variable:
    return next(w for w in wrapper.weights if _NONZERO in w.name)


def int4_aware(model: keras.Model, keep_zeros: bool) -> keras.Model:
    """A copy of ``model`` whose Conv2D/Dense kernels train on the int4 grid.

    ``keep_zeros``: weights that are exactly zero (pruned) stay zero; else none is fixed.
    """

    def wrap(layer: keras.layers.Layer) -> keras.layers.Layer | None:
        if not isinstance(layer, PRUNABLE):
            return None
        return tfmot.quantization.keras.QuantizeWrapperV2(layer, _Int4WeightsConfig())

    wrapped = wrap_layers(model, wrap)
    if keep_zeros:  # the masks start at ones: nothing fixed
        for wrapper in _wrapped(wrapped):
            _mask(wrapper).assign((_shadow_kernel(wrapper).numpy() != 0).astype(np.float32))
    return wrapped


def strip_int4_aware(wrapped: keras.Model, source: keras.Model) -> keras.Model:
    """A plain copy of ``source`` with ``wrapped``'s trained weights, kernels on the grid."""
    plain = copy_model(source)
    # A wrapper is named ``quant_<layer>``; it answers for the layer it wraps.
    by_name = {getattr(layer, "layer", layer).name: layer for layer in wrapped.layers}
    for layer in plain.layers:
        trained = by_name[layer.name]
        if isinstance(trained, tfmot.quantization.keras.QuantizeWrapperV2):
            layer.kernel.assign(_masked_grid(_shadow_kernel(trained), _mask(trained)))
            if getattr(layer, "use_bias", False):
                layer.bias.assign(trained.layer.bias)
        elif layer.weights:
            layer.set_weights(trained.get_weights())
    return plain


def qat4_finetune(
    model: keras.Model, data: FinetuneData, config: CompressConfig, keep_zeros: bool
) -> keras.Model:
    """wrap -> fine-tune at ``config.adapt_learning_rate`` -> strip -> re-estimate BN.

    The adapting rate, as for 8-bit QAT and clustering: the model has converged and
    only learns to live with its rounding.
    """
    wrapped = int4_aware(model, keep_zeros)
    finetune(wrapped, data, config, learning_rate=config.adapt_learning_rate)
    stripped = strip_int4_aware(wrapped, model)
    refresh_batch_norm(stripped, data)
    return stripped
