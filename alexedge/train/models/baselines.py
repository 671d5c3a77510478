"""Baselines that show what the convolutions buy: a linear and a one-hidden-layer model.

Both see the normalized pixels directly, so any size works; 16x16 is the floor because
smaller images carry too little to classify and only make a misconfiguration look valid.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

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
    test_variants=((48, {}),),
)
def logreg(inputs: keras.Input, x: tf.Tensor, *, num_classes: int) -> keras.Model:
    """Softmax of one linear map of the pixels; already tiny at 32x32 (no options)."""
    x = _L.Flatten(name="flatten")(x)
    return classifier_head(inputs, x, num_classes, "logreg")


def _mlp_problems(options: Mapping[str, Any]) -> list[str]:
    problems = []
    fc_units, dropout = options["fc_units"], options["dropout"]
    if not (isinstance(fc_units, int) and fc_units >= 1):
        problems.append(f"fc_units must be a positive integer, got {fc_units!r}")
    if not (isinstance(dropout, int | float) and 0 <= dropout < 1):
        problems.append(f"dropout must be in [0, 1), got {dropout!r}")
    return problems


@register_model(
    "mlp",
    default_input_size=64,
    min_input_size=16,
    description="One hidden layer of 1024 ReLU units on normalized pixels",
    tiny_options={"fc_units": 16},
    check=_mlp_problems,
    test_variants=((40, {"dropout": 0.2}),),
)
def mlp(
    inputs: keras.Input,
    x: tf.Tensor,
    *,
    num_classes: int,
    fc_units: int = 1024,
    dropout: float = 0.0,
) -> keras.Model:
    """Flatten, one ReLU layer, softmax. The hidden layer is named ``fc7`` like AlexNet's
    last hidden layer, so feature-extraction code reads the same name in every family."""
    problems = _mlp_problems({"fc_units": fc_units, "dropout": dropout})
    if problems:
        raise ModelError("mlp: " + "; ".join(problems))
    x = _L.Flatten(name="flatten")(x)
    x = _L.Dense(fc_units, activation="relu", name="fc7")(x)
    if dropout > 0:
        x = _L.Dropout(dropout, name="fc7_dropout")(x)
    return classifier_head(inputs, x, num_classes, "mlp")
