"""Baselines that show what the convolutions buy: a linear and a one-hidden-layer model.

Both see the normalized pixels directly, so any size works; 16x16 is the floor because
smaller images carry too little to classify and only make a misconfiguration look valid.
"""

from __future__ import annotations

import tensorflow as tf
import tf_keras as keras

from alexedge.errors import ModelError
from alexedge.train.models.layers import classifier_head
from alexedge.train.models.registry import register_model

__all__ = ["logreg", "mlp"]

_L = keras.layers


@register_model(
    "logreg",
    default_input_size=64,
    min_input_size=16,
    description="Multinomial logistic regression on normalized pixels (lower bound)",
)
def logreg(inputs: keras.Input, x: tf.Tensor, *, num_classes: int) -> keras.Model:
    """Softmax of one linear map of the pixels; already tiny at 32x32 (no options)."""
    x = _L.Flatten(name="flatten")(x)
    return classifier_head(inputs, x, num_classes, "logreg")


@register_model(
    "mlp",
    default_input_size=64,
    min_input_size=16,
    description="One hidden layer of 1024 ReLU units on normalized pixels",
    tiny_options={"hidden_units": 16},
)
def mlp(
    inputs: keras.Input,
    x: tf.Tensor,
    *,
    num_classes: int,
    hidden_units: int = 1024,
    dropout: float = 0.0,
) -> keras.Model:
    """Flatten, one ReLU layer, softmax. The hidden layer is named ``fc7`` like AlexNet's
    last hidden layer, so feature-extraction code reads the same name in every family."""
    if hidden_units < 1:
        raise ModelError(f"mlp: hidden_units must be positive, got {hidden_units}")
    if not 0 <= dropout < 1:
        raise ModelError(f"mlp: dropout must be in [0, 1), got {dropout}")
    x = _L.Flatten(name="flatten")(x)
    x = _L.Dense(hidden_units, activation="relu", name="fc7")(x)
    if dropout > 0:
        x = _L.Dropout(dropout, name="fc7_dropout")(x)
    return classifier_head(inputs, x, num_classes, "mlp")
