"""``--time-budget``: fit the number of epochs to a time, the schedule to the epochs.

The same recipe takes 13 s an epoch on one 2-core machine and 147 s on another, so a
fixed epoch count is a fixed cost only on the machine it was tuned on. A budget is
spent as budgeted training does it (Li et al. 2020, "Budgeted training: rethinking deep
neural network training under resource constraints"): fewer epochs, with the learning
rate schedule compressed to end exactly at the last of them, rather than the long
schedule cut off while the rate is still high.

Epoch 1 is the measurement: it runs with the recipe's schedule (its warmup, which a
shorter plan shares), then ``FirstEpochTimer``'s times give a steady epoch (the first
batch, which also traced the step, is left out), the cost of tracing the step again
with the planned schedule, and of the final centre and 10-crop evaluation. The plan
(``TrainConfig.epochs`` at most) is saved in ``train_state.json``: a resumed run keeps it.
"""

from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass

import tf_keras as keras

from alexedge.train.config import TrainConfig
from alexedge.train.eta import clock, duration

__all__ = ["EpochTiming", "FirstEpochTimer", "plan_epochs", "plan_line", "planned_config"]

# The final evaluation is a centre crop and 10 crops: eleven passes over the
# validation images (``alexedge.train.evaluate``).
_EVAL_PASSES = 11
# Left unplanned for what the timing does not see (saving best.keras, metrics.json).
_MARGIN = 0.05
# A head-alone epoch (``--freeze-epochs``) runs the whole forward pass but the backward
# pass of the head only; training every layer adds the backward pass, about twice the
# forward's work, so an epoch after the frozen ones costs about three timed ones.
_FULL_OVER_FROZEN = 3.0


@dataclass(frozen=True)
class EpochTiming:
    """Seconds measured on epoch 1, split into what recurs and what happens once."""

    epoch: float  # one epoch without tracing: training, validation, checkpoints
    trace: float  # building the training step (done again with the planned schedule)
    evaluation: float  # the final evaluation, estimated from the validation pass
    first_epoch: float  # epoch 1 as it ran


class FirstEpochTimer(keras.callbacks.Callback):
    """Times one ``fit`` call of one epoch of ``steps`` batches of ``batch_size`` images,
    validated on ``val_images``.

    Batch hooks make Keras fetch each batch's logs, a cost paid on this epoch only.
    """

    def __init__(self, steps: int, batch_size: int, val_images: int) -> None:
        super().__init__()
        self.steps = steps
        self.batch_size = batch_size
        self.val_images = val_images
        self._t: dict[str, float] = {}
        self._val_batches = 0

    def _mark(self, name: str) -> None:
        self._t.setdefault(name, time.perf_counter())

    def on_train_begin(self, logs: dict | None = None) -> None:
        self._mark("start")

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        self._mark("first_batch")

    def on_test_begin(self, logs: dict | None = None) -> None:
        self._mark("val_start")

    def on_test_batch_end(self, batch: int, logs: dict | None = None) -> None:
        self._mark("val_first_batch")
        self._val_batches = batch + 1

    def on_test_end(self, logs: dict | None = None) -> None:
        self._mark("val_end")

    def on_train_end(self, logs: dict | None = None) -> None:
        self._mark("end")

    def timing(self, average_epochs: int = 0) -> EpochTiming:
        t = self._t
        start, end = t["start"], t["end"]
        val_start = t.get("val_start", end)
        train = val_start - start
        first = t.get("first_batch", val_start) - start
        per_batch = (train - first) / (self.steps - 1) if self.steps > 1 else train
        trace = max(0.0, first - per_batch)
        val = t.get("val_end", val_start) - val_start
        val_first = t.get("val_first_batch", val_start) - val_start
        n = self._val_batches
        if n > 1:
            val_pass = (val - val_first) * n / (n - 1)
        else:  # one batch: its time is mostly tracing; a forward pass is ~1/3 of a step
            val_pass = min(val, per_batch * self.val_images / self.batch_size / 3)
        val_trace = max(0.0, val - val_pass)
        evaluation = val_trace + _EVAL_PASSES * val_pass
        if average_epochs:  # batch-norm re-estimation: one forward pass over training
            evaluation += per_batch * self.steps / 2
        return EpochTiming(end - start - trace - val_trace, trace, evaluation, end - start)


def plan_epochs(
    budget: float,
    elapsed: float,
    timing: EpochTiming,
    max_epochs: int,
    done: int = 1,
    frozen: int = 0,
) -> int:
    """Epochs (``done`` of them trained, ``max_epochs`` at most) that end the run within
    ``budget`` seconds; ``elapsed``: seconds of the run so far, the timed epoch included.

    ``frozen``: the run's head-alone epochs (``--freeze-epochs``). When the timed epoch
    was one of them, the epochs that train every layer cost ``_FULL_OVER_FROZEN`` times
    as much, and unfreezing traces the step once more.
    """
    left = budget * (1 - _MARGIN) - elapsed - timing.trace - timing.evaluation
    if timing.epoch <= 0:
        return max_epochs
    if done > frozen:  # the timed epoch trained every layer
        return max(done, min(max_epochs, done + math.floor(left / timing.epoch)))
    head_alone = min(frozen, max_epochs) - done
    if left < head_alone * timing.epoch:
        return max(done, done + math.floor(left / timing.epoch))
    left -= head_alone * timing.epoch + timing.trace
    full = max(0, math.floor(left / (timing.epoch * _FULL_OVER_FROZEN)))
    return min(max_epochs, done + head_alone + full)


def planned_config(config: TrainConfig, epochs: int) -> TrainConfig:
    """``config`` for ``epochs`` epochs, with every count of epochs scaled alike.

    Averaged, plain and step epochs keep their share of the run; warmup keeps its length,
    since epoch 1 already ran it (and the schedule never warms up for the whole run).
    Epoch 1 ran before there was a plan, outside any weight average, so the average
    leaves it out (a 1-epoch plan averages nothing, and has no SWA rate).
    """
    if epochs == config.epochs:
        return config

    def scaled(n: int) -> int:
        return 0 if n == 0 else min(epochs, max(1, round(n * epochs / config.epochs)))

    steps = sorted({round(e * epochs / config.epochs) for e in config.step_epochs})
    # A fine-tune's head-alone epochs keep their count, within the plan and before
    # the averaged ones.
    freeze = min(config.freeze_epochs, epochs)
    average = min(scaled(config.average_epochs), epochs - 1, epochs - freeze)
    return dataclasses.replace(
        config,
        epochs=epochs,
        freeze_epochs=freeze,
        average_epochs=average,
        swa_lr=config.swa_lr if average else 0.0,
        plain_epochs=scaled(config.plain_epochs),
        step_epochs=tuple(e for e in steps if 0 < e < epochs),
    )


def plan_line(config: TrainConfig, epochs: int, timing: EpochTiming, elapsed: float) -> str:
    """What the budget bought, said once after epoch 1."""
    budget = config.time_budget * 60
    expected = elapsed + timing.trace + (epochs - 1) * timing.epoch + timing.evaluation
    capped = " (the recipe's most)" if epochs == config.epochs else ""
    if expected > budget:
        capped += ", over budget: one epoch and the evaluation take longer here"
    return (
        f"epoch 1 took {duration(timing.first_epoch)} (later epochs ~{duration(timing.epoch)}): "
        f"a {duration(budget)} budget fits {epochs} of {config.epochs} epochs{capped}, "
        f"whole run ~{duration(expected)}, done ~{clock(expected - elapsed)}; "
        f"the learning rate schedule now spans {epochs} epoch{'s' * (epochs != 1)}"
    )
