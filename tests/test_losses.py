"""Each training loss against values computed by hand from its definition."""

from __future__ import annotations

import math

import numpy as np
import pytest
import tf_keras as keras
from train_data import tiny_config

from alexedge.train.losses import MulticlassHinge, make_loss

LOGITS = np.array([[2.0, 1.0, 0.0], [-3.0, -2.0, -1.0]], np.float32)
ONE_HOT = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]], np.float32)


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _value(loss: keras.losses.Loss, y_true: np.ndarray, y_pred: np.ndarray) -> float:
    return float(loss(y_true, y_pred).numpy())


def test_crossentropy_from_logits_by_hand() -> None:
    # Example 1: -log(e^2 / (e^2 + e + 1)); example 2: -log(e^-1 / (e^-3 + e^-2 + e^-1)).
    first = -(2.0 - math.log(math.e**2 + math.e + 1.0))
    second = -(-1.0 - math.log(math.exp(-3) + math.exp(-2) + math.exp(-1)))
    loss = make_loss(tiny_config(label_smoothing=0.0))
    assert _value(loss, ONE_HOT, LOGITS) == pytest.approx((first + second) / 2, rel=1e-6)


def test_label_smoothed_crossentropy_by_hand() -> None:
    # Targets (1 - 0.3) * y + 0.3 / 3 = [0.8, 0.1, 0.1] (Szegedy et al. 2016).
    eps, k = 0.3, 3
    targets = ONE_HOT * (1 - eps) + eps / k
    log_p = np.log(_softmax(LOGITS.astype(np.float64)))
    expected = float(np.mean(-(targets * log_p).sum(axis=1)))
    loss = make_loss(tiny_config(label_smoothing=eps))
    assert _value(loss, ONE_HOT, LOGITS) == pytest.approx(expected, rel=1e-6)


def test_crossentropy_on_probabilities_matches_logits() -> None:
    # A softmax model (pruning fine-tuning) gets the same loss as the logits view.
    config = tiny_config(label_smoothing=0.1)
    from_logits = _value(make_loss(config), ONE_HOT, LOGITS)
    from_probs = _value(make_loss(config, from_logits=False), ONE_HOT, _softmax(LOGITS))
    assert from_probs == pytest.approx(from_logits, rel=1e-5)


def test_crammer_singer_hinge_by_hand() -> None:
    # max(0, 1 + best wrong - true): example 1: 1 + 1 - 2 = 0 (margin exactly met);
    # example 2: true class 2 scores -1, best wrong -2: 1 - 2 + 1 = 0 as well.
    assert _value(MulticlassHinge(), ONE_HOT, LOGITS) == pytest.approx(0.0, abs=1e-7)
    logits = np.array([[2.0, 1.5, -1.0], [-3.0, -2.0, -1.0]], np.float32)
    labels = np.array([[1.0, 0.0, 0.0], [1.0, 0.0, 0.0]], np.float32)
    # Example 1: 1 + 1.5 - 2 = 0.5; example 2: 1 + (-1) - (-3) = 3.
    assert _value(MulticlassHinge(), labels, logits) == pytest.approx((0.5 + 3.0) / 2, rel=1e-6)


def test_hinge_is_not_keras_categorical_hinge_on_negative_logits() -> None:
    # Keras masks the true class with 0, which beats negative wrong logits: 1 + 0 + 3 = 4.
    logits = np.array([[-3.0, -2.0, -1.0]], np.float32)
    labels = np.array([[1.0, 0.0, 0.0]], np.float32)
    assert _value(keras.losses.CategoricalHinge(), labels, logits) == pytest.approx(4.0)
    assert _value(MulticlassHinge(), labels, logits) == pytest.approx(3.0)


def test_hinge_from_probabilities_equals_hinge_from_logits() -> None:
    # Log-probabilities are the logits shifted per example; the hinge is shift-invariant.
    logits = np.array([[0.5, 1.5, -1.0], [-3.0, -2.5, -1.0]], np.float32)
    exact = _value(MulticlassHinge(), ONE_HOT, logits)
    via_probs = _value(MulticlassHinge(from_logits=False), ONE_HOT, _softmax(logits))
    assert via_probs == pytest.approx(exact, rel=1e-5)


def test_make_loss_picks_the_configured_loss_and_it_serializes() -> None:
    hinge = make_loss(tiny_config(loss="hinge", label_smoothing=0.0))
    assert isinstance(hinge, MulticlassHinge)
    restored = keras.losses.deserialize(keras.losses.serialize(hinge))
    assert isinstance(restored, MulticlassHinge) and restored.margin == 1.0
    ce = make_loss(tiny_config(label_smoothing=0.2))
    assert isinstance(ce, keras.losses.CategoricalCrossentropy)
    assert ce.get_config()["label_smoothing"] == pytest.approx(0.2)
