"""Saliency maps (Simonyan et al. 2014): where in the image the top class score comes from.

The map is the gradient of the top class's *logit* with respect to the input pixels,
max of its absolute value over the colour channels. The logit rather than the softmax
probability: a confident prediction saturates the softmax and its gradient vanishes.
Our models take raw 0-255 pixels (normalization is inside the model), so the gradient
is with respect to exactly the pixels shown beside the map.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from alexedge.data.dataset import Sample

__all__ = ["Saliency", "pick_samples", "saliency_maps"]


@dataclass(frozen=True)
class Saliency:
    images: np.ndarray  # uint8 (N, H, W, 3), the model inputs
    maps: np.ndarray  # float32 (N, H, W), |d logit_top / d pixel|, max over channels
    probabilities: np.ndarray  # float32 (N, classes)
    labels: np.ndarray  # int (N,), the true classes


def pick_samples(samples: Sequence[Sample], count: int = 10) -> list[Sample]:
    """``count`` samples taken round-robin over the classes, so the figure shows variety."""
    by_class: dict[int, list[Sample]] = {}
    for s in samples:
        by_class.setdefault(s.label, []).append(s)
    queues = [by_class[c] for c in sorted(by_class)]
    picked: list[Sample] = []
    depth = 0
    while len(picked) < count and any(depth < len(q) for q in queues):
        picked += [q[depth] for q in queues if depth < len(q)][: count - len(picked)]
        depth += 1
    return picked


def saliency_maps(model: object, images: np.ndarray, labels: np.ndarray) -> Saliency:
    """Saliency of ``model`` (raw-pixel input, softmax output) on uint8 ``images``."""
    import tensorflow as tf

    scorer, are_logits = _score_model(model)
    x = tf.convert_to_tensor(images.astype(np.float32))
    with tf.GradientTape() as tape:
        tape.watch(x)
        scores = scorer(x, training=False)
        top = tf.argmax(scores, axis=1)
        score = tf.reduce_sum(tf.gather(scores, top, axis=1, batch_dims=1))
    grads = tape.gradient(score, x)
    maps = tf.reduce_max(tf.abs(grads), axis=-1).numpy().astype(np.float32)
    probabilities = tf.nn.softmax(scores, axis=1) if are_logits else scores
    return Saliency(images, maps, np.asarray(probabilities, np.float32), np.asarray(labels))


def _score_model(model: object) -> tuple[object, bool]:
    """The model up to its final ``Softmax`` layer (``probs`` in our registry), if it has one.

    ``(scorer, True)`` when the scorer outputs logits; a model ending in a Dense with
    softmax activation gives ``(model, False)``: probabilities, the best available.
    """
    import tf_keras as keras

    last = model.layers[-1]  # type: ignore[attr-defined]
    if isinstance(last, keras.layers.Softmax):
        return keras.Model(model.inputs, last.input), True  # type: ignore[attr-defined]
    return model, False
