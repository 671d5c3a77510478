"""Training losses, computed from the ``fc8`` logits.

Every model ends in a float32 softmax (``probs``) because that is what gets exported.
Training instead fits a second view of the same network that stops at ``fc8``
(``alexedge.train.loop.logits_model``, sharing every weight), so the losses see logits:
cross-entropy then uses the fused, numerically stable log-softmax, and the hinge loss
has the raw scores it is defined on. (Taking ``log`` of the softmax output would be
exact only until a probability underflows, and its gradient divides by that
probability.) ``from_logits=False`` is still supported for callers that hold only a
softmax model, such as pruning fine-tuning.
"""

from __future__ import annotations

from typing import Any

import tensorflow as tf
import tf_keras as keras

from alexedge.train.config import TrainConfig

__all__ = ["MulticlassHinge", "make_loss"]

_LOG_FLOOR = 1e-12


@keras.utils.register_keras_serializable(package="alexedge")
class MulticlassHinge(keras.losses.Loss):
    """Crammer & Singer (2001) multi-class SVM loss: ``max(0, m + max_{j≠y} z_j - z_y)``.

    One hinge on the best wrong class per example, rather than Weston & Watkins' sum of
    one hinge per wrong class: it is zero exactly when the true score beats every other
    by the margin, and its scale does not grow with the number of classes. ``y_true`` is
    one-hot. Keras' ``CategoricalHinge`` is written for non-negative outputs (it masks
    the true class with a zero, which wins the max whenever all wrong logits are
    negative), so it is not this loss on logits.

    The loss is shift-invariant, so with ``from_logits=False`` the log-probabilities,
    which are logits shifted per example, give the same value.
    """

    def __init__(self, margin: float = 1.0, from_logits: bool = True, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.margin = float(margin)
        self.from_logits = bool(from_logits)

    def call(self, y_true: tf.Tensor, y_pred: tf.Tensor) -> tf.Tensor:
        scores = tf.cast(y_pred, tf.float32)
        if not self.from_logits:
            scores = tf.math.log(tf.maximum(scores, _LOG_FLOOR))
        is_true = tf.cast(y_true, tf.float32) > 0.5
        true_score = tf.reduce_max(tf.where(is_true, scores, scores.dtype.min), axis=-1)
        best_wrong = tf.reduce_max(tf.where(is_true, scores.dtype.min, scores), axis=-1)
        return tf.nn.relu(self.margin + best_wrong - true_score)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "margin": self.margin, "from_logits": self.from_logits}


def make_loss(config: TrainConfig, from_logits: bool = True) -> keras.losses.Loss:
    """The config's loss: cross-entropy (label-smoothed when ``label_smoothing > 0``) or
    the Crammer-Singer hinge. Smoothing mixes ``label_smoothing / classes`` into every
    target (Szegedy et al. 2016), Keras' definition."""
    if config.loss == "hinge":
        return MulticlassHinge(from_logits=from_logits, name="hinge")
    return keras.losses.CategoricalCrossentropy(
        from_logits=from_logits, label_smoothing=config.label_smoothing, name="crossentropy"
    )
