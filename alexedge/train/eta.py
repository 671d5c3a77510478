"""How long a run will take, said in words a person plans by: "40 min, done ~01:40".

Nothing is measured before the first epoch, so nothing is promised before it: the
first estimate comes after epoch 1 and every progress line after that carries the
finish time. The first epoch of a process also builds (traces) the training step, so
later epochs are timed on their own once there are any.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from alexedge.hardware import hardware_line

__all__ = [
    "clock",
    "duration",
    "epoch_estimate",
    "fine_tune_line",
    "finish_line",
    "start_line",
]


def duration(seconds: float) -> str:
    """``42 s``, ``17 min``, ``3.9 h``: the unit a person reads at a glance."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def clock(seconds_from_now: float, now: datetime | None = None) -> str:
    """The local time ``seconds_from_now`` from ``now``; the weekday when not today."""
    now = now or datetime.now()
    finish = now + timedelta(seconds=max(0.0, seconds_from_now))
    return finish.strftime("%H:%M") if finish.date() == now.date() else finish.strftime("%a %H:%M")


def epoch_estimate(seconds: Sequence[float]) -> float:
    """Seconds per epoch from this process's epoch times, the first left out once others
    exist: it also built the training step."""
    later = seconds[1:] or seconds
    return sum(later) / len(later) if later else 0.0


def finish_line(
    epoch: int, epochs: int, seconds: Sequence[float], now: datetime | None = None
) -> str:
    """ "epoch 1 took 24 s: 100 epochs ~ 40 min, done ~01:40" after ``epoch`` of ``epochs``.

    ``seconds``: the epochs timed in this process, the last one being ``epoch``; a resumed
    run's earlier epochs count at the same pace.
    """
    per_epoch = epoch_estimate(seconds)
    left = (epochs - epoch) * per_epoch
    whole = sum(seconds) + (epochs - len(seconds)) * per_epoch
    return (
        f"epoch {epoch} took {duration(seconds[-1])}: {epochs} epochs ~ {duration(whole)}, "
        f"done ~{clock(left, now)}"
    )


def start_line(epochs: int, time_budget: float = 0.0) -> str:
    """Said before training: the machine, and when the time will be known.

    Nothing is timed yet, and a guess from another machine's speed can be off fourfold
    (``alexedge.hardware``), so it names the machine and promises the measured estimate.
    """
    if time_budget:
        plan = (
            f"time budget {duration(time_budget * 60)}: the epochs ({epochs} at most) are "
            "fitted to it after epoch 1"
        )
    else:
        plan = f"{epochs} epochs: time estimate after epoch 1"
    return f"on {hardware_line()}; {plan}"


def fine_tune_line(epoch_seconds: float, models: int, epochs: int) -> str:
    """What the compress stage's pruning fine-tunes will take, at the training's pace.

    Said when training ends, the first moment the pace is known; a fine-tune epoch is
    a training epoch through pruning wrappers, so the estimate is a floor.
    """
    if not models:
        return "compress: no pruning fine-tune; export and measurement only"
    total = models * epochs * epoch_seconds
    return (
        f"compress: {models} pruned model(s) x {epochs} fine-tune epochs at "
        f"~{duration(epoch_seconds)} ~ {duration(total)} or more, done ~{clock(total)} at the "
        "earliest, then export and measurement"
    )
