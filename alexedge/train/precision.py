"""Mixed precision: build a model under a Keras dtype policy, keeping its head in float32.

``mixed_float16`` (GPUs) and ``mixed_bfloat16`` (TPUs, and CPUs with AVX512-BF16/AMX)
compute layers in 16 bits with float32 variables. The logits layer ``fc8`` and the
softmax stay float32: the softmax of float16 logits saturates and the loss would be
computed from rounded scores (the Keras mixed-precision guide's advice for the
output layer).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

import tf_keras as keras

__all__ = ["build_with_precision", "float32_model", "precision_policy"]

_FLOAT32_LAYERS = ("fc8", "probs")


@contextlib.contextmanager
def precision_policy(name: str) -> Iterator[None]:
    """Set Keras' global dtype policy for the layers built inside; restore it after."""
    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy(name)
    try:
        yield
    finally:
        keras.mixed_precision.set_global_policy(previous)


def build_with_precision(build: Callable[[], keras.Model], precision: str) -> keras.Model:
    """``build()`` under ``precision``, then ``fc8`` and ``probs`` re-made in float32.

    The registry's shared head creates ``fc8`` with the global policy, so under a mixed
    policy it is rebuilt here by cloning the fresh model with float32 for those layers
    (clone gives new, equally initialized weights; nothing has been trained yet).
    """
    if precision == "float32":
        return build()
    with precision_policy(precision):
        model = build()
        return keras.models.clone_model(model, clone_function=_float32_head_clone)


def _float32_head_clone(layer: keras.layers.Layer) -> keras.layers.Layer:
    config = layer.get_config()
    if layer.name in _FLOAT32_LAYERS:
        config["dtype"] = "float32"
    return layer.__class__.from_config(config)


def float32_model(model: keras.Model) -> keras.Model:
    """``model`` with every layer in float32 and the same weights (itself if already so).

    What gets saved as the deployable ``best.keras``: converters, pruning and the edge
    runtime expect float32 layers, whatever precision the training ran in.
    """
    if all(layer.dtype_policy.name == "float32" for layer in model.layers):
        return model
    clone = keras.models.clone_model(model, clone_function=_float32_clone)
    clone.set_weights(model.get_weights())
    return clone


def _float32_clone(layer: keras.layers.Layer) -> keras.layers.Layer:
    return layer.__class__.from_config({**layer.get_config(), "dtype": "float32"})
