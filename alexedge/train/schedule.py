"""Learning-rate schedules: linear warmup, then cosine decay or steps of ÷10.

All are serializable ``LearningRateSchedule`` objects, so a saved model's optimizer
restores with them. Reduce-on-plateau cannot assign a learning rate that a schedule
computes, so ``Scaled`` multiplies any schedule by a variable that the plateau
callback divides by 10; its value is saved in ``train_state.json`` for resuming.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import tensorflow as tf
import tf_keras as keras

from alexedge.train.config import TrainConfig

__all__ = ["LoweredAfter", "Scaled", "WarmupCosine", "WarmupStep", "make_schedule"]

_Schedule = keras.optimizers.schedules.LearningRateSchedule


def _warmup(peak: float, step: tf.Tensor, warmup_steps: int) -> tf.Tensor:
    # (step + 1): the very first step already trains, at peak / warmup_steps.
    return peak * (step + 1.0) / float(max(1, warmup_steps))


@keras.utils.register_keras_serializable(package="alexedge")
class WarmupCosine(_Schedule):
    """Linear warmup to ``peak`` over ``warmup_steps``, then cosine decay to ``floor``.

    The rate reaches ``floor`` at ``total_steps`` and stays there: with a floor above
    zero the steps after ``total_steps`` are SWA's constant-rate epochs.
    """

    def __init__(
        self, peak: float, total_steps: int, warmup_steps: int = 0, floor: float = 0.0
    ) -> None:
        self.peak = float(peak)
        self.total_steps = max(1, int(total_steps))
        self.warmup_steps = max(0, int(warmup_steps))
        self.floor = float(floor)

    def __call__(self, step):
        step = tf.cast(step, tf.float32)
        decay_steps = float(max(1, self.total_steps - self.warmup_steps))
        progress = tf.clip_by_value((step - self.warmup_steps) / decay_steps, 0.0, 1.0)
        cosine = self.floor + 0.5 * (self.peak - self.floor) * (1.0 + tf.cos(math.pi * progress))
        return tf.where(
            step < self.warmup_steps, _warmup(self.peak, step, self.warmup_steps), cosine
        )

    def get_config(self) -> dict[str, float | int]:
        return {
            "peak": self.peak,
            "total_steps": self.total_steps,
            "warmup_steps": self.warmup_steps,
            "floor": self.floor,
        }


@keras.utils.register_keras_serializable(package="alexedge")
class WarmupStep(_Schedule):
    """Linear warmup to ``peak``, then ``peak * factor**k`` after the k-th boundary step.

    The paper divided the rate by 10 by hand when validation error stopped improving
    (sec. 5); fixed boundaries make that reproducible.
    """

    def __init__(
        self,
        peak: float,
        boundaries: Sequence[int],
        warmup_steps: int = 0,
        factor: float = 0.1,
    ) -> None:
        self.peak = float(peak)
        self.boundaries = [int(b) for b in boundaries]
        self.warmup_steps = max(0, int(warmup_steps))
        self.factor = float(factor)

    def __call__(self, step):
        step = tf.cast(step, tf.float32)
        drops = tf.zeros([], tf.float32)
        for boundary in self.boundaries:
            drops += tf.cast(step >= boundary, tf.float32)
        stepped = self.peak * tf.pow(self.factor, drops)
        return tf.where(
            step < self.warmup_steps, _warmup(self.peak, step, self.warmup_steps), stepped
        )

    def get_config(self) -> dict[str, Any]:
        return {
            "peak": self.peak,
            "boundaries": self.boundaries,
            "warmup_steps": self.warmup_steps,
            "factor": self.factor,
        }


@keras.utils.register_keras_serializable(package="alexedge")
class Scaled(_Schedule):
    """``schedule(step) * scale``, with ``scale`` a variable a callback may change."""

    def __init__(self, schedule: _Schedule, scale: float = 1.0) -> None:
        self.schedule = schedule
        self.scale = tf.Variable(float(scale), trainable=False, dtype=tf.float32, name="lr_scale")

    def __call__(self, step):
        return self.schedule(step) * self.scale

    def get_config(self) -> dict[str, Any]:
        return {
            "schedule": keras.saving.serialize_keras_object(self.schedule),
            "scale": float(self.scale.numpy()),
        }

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Scaled:
        inner = keras.saving.deserialize_keras_object(config["schedule"])
        return cls(inner, config["scale"])


@keras.utils.register_keras_serializable(package="alexedge")
class LoweredAfter(_Schedule):
    """``schedule(step)``, times ``factor`` from step ``boundary`` on.

    A fine-tune's rate: the new head alone trains at the recipe's rate, then the whole
    network at ``TrainConfig.finetune_lr_scale`` times it.
    """

    def __init__(self, schedule: _Schedule, boundary: int, factor: float) -> None:
        self.schedule = schedule
        self.boundary = int(boundary)
        self.factor = float(factor)

    def __call__(self, step):
        lowered = tf.cast(step, tf.float32) >= float(self.boundary)
        return self.schedule(step) * tf.where(lowered, self.factor, 1.0)

    def get_config(self) -> dict[str, Any]:
        return {
            "schedule": keras.saving.serialize_keras_object(self.schedule),
            "boundary": self.boundary,
            "factor": self.factor,
        }

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> LoweredAfter:
        inner = keras.saving.deserialize_keras_object(config["schedule"])
        return cls(inner, config["boundary"], config["factor"])


def make_schedule(config: TrainConfig, steps_per_epoch: int, scale: float = 1.0) -> Scaled:
    """The config's schedule in optimizer steps, times the plateau ``scale``.

    A fine-tune (``init_from``) lowers it once its frozen epochs are over.
    """
    warmup = steps_per_epoch * _warmup_epochs(config)
    if config.schedule == "step":
        boundaries = [steps_per_epoch * e for e in config.lr_drop_epochs()]
        base: _Schedule = WarmupStep(config.learning_rate, boundaries, warmup)
    else:
        # With swa_lr the decay ends where the averaged epochs begin.
        decay_epochs = config.epochs - (config.average_epochs if config.swa_lr else 0)
        base = WarmupCosine(
            config.learning_rate, steps_per_epoch * decay_epochs, warmup, config.swa_lr
        )
    if config.init_from:
        boundary = steps_per_epoch * config.freeze_epochs
        base = LoweredAfter(base, boundary, config.finetune_lr_scale)
    return Scaled(base, scale)


def _warmup_epochs(config: TrainConfig) -> int:
    # Never warm up for the whole run: a 1-epoch run (tests, smoke runs) still decays.
    return min(config.warmup_epochs, config.epochs - 1)
