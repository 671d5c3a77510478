"""Learning-rate schedule: linear warmup, then cosine decay to zero.

A serializable ``LearningRateSchedule`` so a saved model's optimizer restores with
it and a resumed run continues on the same curve.
"""

from __future__ import annotations

import math

import tensorflow as tf
import tf_keras as keras

__all__ = ["WarmupCosine"]


@keras.utils.register_keras_serializable(package="alexedge")
class WarmupCosine(keras.optimizers.schedules.LearningRateSchedule):
    def __init__(self, peak: float, total_steps: int, warmup_steps: int = 0) -> None:
        self.peak = float(peak)
        self.total_steps = max(1, int(total_steps))
        self.warmup_steps = max(0, int(warmup_steps))

    def __call__(self, step):
        step = tf.cast(step, tf.float32)
        warm = self.peak * (step + 1.0) / float(max(1, self.warmup_steps))
        decay_steps = float(max(1, self.total_steps - self.warmup_steps))
        progress = tf.clip_by_value((step - self.warmup_steps) / decay_steps, 0.0, 1.0)
        cosine = 0.5 * self.peak * (1.0 + tf.cos(math.pi * progress))
        return tf.where(step < self.warmup_steps, warm, cosine)

    def get_config(self) -> dict[str, float | int]:
        return {
            "peak": self.peak,
            "total_steps": self.total_steps,
            "warmup_steps": self.warmup_steps,
        }
