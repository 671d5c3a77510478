"""End-of-epoch bookkeeping: plateau and early stopping, checkpoints, history, progress.

One callback (``EpochRecorder``) does every write that must stay consistent with the
others, in an order that makes ``train_state.json`` the commit point: history row,
checkpoints, then the state file. A run killed at any moment therefore resumes from
the last epoch whose state was written; history rows of an epoch that did not commit
are dropped when the next row is written, so each epoch appears exactly once.
"""

from __future__ import annotations

import csv
import io
import json
import sys
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import tf_keras as keras
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from alexedge.atomic import write_json, write_text
from alexedge.errors import ModelError
from alexedge.progress import say
from alexedge.run import HISTORY
from alexedge.train.checkpoint import Checkpoints
from alexedge.train.config import TrainConfig
from alexedge.train.eta import clock, epoch_estimate, finish_line
from alexedge.train.schedule import Scaled

__all__ = [
    "HISTORY_COLUMNS",
    "STATE_FILE",
    "EpochProgress",
    "EpochRecorder",
    "RunState",
    "advance",
    "progress_callback",
    "read_history",
    "read_state",
    "write_state",
]

STATE_FILE = "train_state.json"
HISTORY_COLUMNS = (
    "epoch",
    "lr",
    "loss",
    "top1",
    "top5",
    "val_loss",
    "val_top1",
    "val_top5",
    "seconds",
)
# Validation top-1 must rise by more than this to count as an improvement.
_MIN_DELTA = 1e-4
_PLATEAU_FACTOR = 0.1  # the paper's ÷10 (sec. 5)


@dataclass(frozen=True)
class RunState:
    """What a resumed run needs besides the checkpoint; saved as ``train_state.json``."""

    epochs_done: int = 0
    best_top1: float = -1.0
    best_epoch: int = 0
    lr_scale: float = 1.0
    plateau_wait: int = 0
    since_best: int = 0
    stopped_early: bool = False
    averaged: bool = False  # best.keras holds the weight average (``average_epochs``)
    planned_epochs: int = 0  # the epochs ``time_budget`` fitted after epoch 1 (0: no plan)

    def epochs_finished(self, config: TrainConfig) -> bool:
        return self.stopped_early or self.epochs_done >= config.epochs

    def finished(self, config: TrainConfig) -> bool:
        return self.epochs_finished(config) and (self.averaged or not config.average_epochs)


def advance(state: RunState, val_top1: float, config: TrainConfig) -> RunState:
    """The state after one more epoch that reached ``val_top1``.

    Reduce-on-plateau divides the learning rate by 10 after ``plateau_patience`` epochs
    without improvement (then waits that long again); early stopping ends the run after
    ``early_stopping_patience`` such epochs. A patience of 0 switches either off.
    """
    epoch = state.epochs_done + 1
    if val_top1 > state.best_top1 + _MIN_DELTA:
        return replace(
            state,
            epochs_done=epoch,
            best_top1=val_top1,
            best_epoch=epoch,
            plateau_wait=0,
            since_best=0,
        )
    state = replace(
        state,
        epochs_done=epoch,
        plateau_wait=state.plateau_wait + 1,
        since_best=state.since_best + 1,
    )
    if config.plateau_patience and state.plateau_wait >= config.plateau_patience:
        state = replace(state, lr_scale=state.lr_scale * _PLATEAU_FACTOR, plateau_wait=0)
    if config.early_stopping_patience and state.since_best >= config.early_stopping_patience:
        state = replace(state, stopped_early=True)
    return state


def write_state(run_dir: Path, state: RunState) -> None:
    write_json(run_dir / STATE_FILE, asdict(state))


def read_state(run_dir: Path) -> RunState:
    """The saved state, or a fresh one when the run has not finished an epoch."""
    path = run_dir / STATE_FILE
    if not path.is_file():
        return RunState()
    try:
        return RunState(**json.loads(path.read_text()))
    except (ValueError, TypeError) as e:
        raise ModelError(
            f"{path}: unreadable training state ({e}); train again without --resume"
        ) from e


def read_history(run_dir: Path) -> list[dict[str, str]]:
    path = run_dir / HISTORY
    if not path.is_file():
        return []
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def _write_history(run_dir: Path, row: dict[str, Any]) -> None:
    """Rewrite ``history.csv`` with the committed rows before ``row``, then ``row``."""
    rows = [r for r in read_history(run_dir) if int(r["epoch"]) < row["epoch"]]
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=HISTORY_COLUMNS, extrasaction="ignore")
    writer.writeheader()
    writer.writerows([*rows, row])
    write_text(run_dir / HISTORY, out.getvalue())


class EpochRecorder(keras.callbacks.Callback):
    """Updates the ``RunState`` and, on the chief, writes history, checkpoints and state.

    Put it first in the callback list: it adds ``lr`` to the epoch logs, which the
    TensorBoard and progress callbacks after it then show.
    """

    def __init__(
        self,
        config: TrainConfig,
        state: RunState,
        checkpoints: Checkpoints,
        schedule: Scaled,
        chief: bool,
    ) -> None:
        super().__init__()
        self.config = config
        self.state = state
        self.checkpoints = checkpoints
        self.schedule = schedule
        self.chief = chief
        self._started = 0.0

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self._started = time.perf_counter()

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        logs = logs if logs is not None else {}
        optimizer = self.checkpoints.optimizer
        logs["lr"] = float(f"{float(self.schedule(optimizer.iterations - 1)):.6g}")
        previous = self.state
        self.state = advance(previous, float(logs.get("val_top1", 0.0)), self.config)
        if self.state.lr_scale != previous.lr_scale:
            self.schedule.scale.assign(self.state.lr_scale)
            say(
                f"epoch {self.state.epochs_done}: no validation top-1 gain for "
                f"{self.config.plateau_patience} epoch(s); learning rate ÷10 from the next "
                f"epoch on (scale {self.state.lr_scale:g})"
            )
        if self.state.stopped_early:
            self.model.stop_training = True
            say(
                f"epoch {self.state.epochs_done}: early stop, validation top-1 has not "
                f"improved since epoch {self.state.best_epoch}"
            )
        if self.chief:
            self._write(logs, improved=self.state.best_epoch == self.state.epochs_done)

    def _write(self, logs: dict[str, Any], improved: bool) -> None:
        run_dir = self.checkpoints.run_dir
        row = {k: logs.get(k, "") for k in HISTORY_COLUMNS}
        row["epoch"] = self.state.epochs_done
        row["seconds"] = round(time.perf_counter() - self._started, 2)
        _write_history(run_dir, row)
        if improved:
            self.checkpoints.save_best()
        self.checkpoints.save_last()
        write_state(run_dir, self.state)


class EpochProgress(keras.callbacks.Callback):
    """One summary line per epoch on stderr (loss, top-1, validation, lr, time, finish time).

    After the first epoch it times, it says what the whole run will take: the first
    moment anything about this machine's speed is known. ``eta=False`` says neither
    that nor the finish time, for an epoch count not yet final (``time_budget``).
    """

    def __init__(self, epochs: int, steps: int, eta: bool = True) -> None:
        super().__init__()
        self.epochs = epochs
        self.steps = steps
        self.eta = eta
        self.console = Console(file=sys.stderr, highlight=False, soft_wrap=True)
        self._started = 0.0
        self._seconds: list[float] = []

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self._started = time.perf_counter()

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        self._seconds.append(time.perf_counter() - self._started)
        left = (self.epochs - epoch - 1) * epoch_estimate(self._seconds)
        line = _summary(epoch + 1, self.epochs, logs or {}, self._seconds[-1])
        self.console.print(line + (f"  done ~{clock(left)}" if left > 0 and self.eta else ""))
        if self.eta and len(self._seconds) == 1 and epoch + 1 < self.epochs:
            say(finish_line(epoch + 1, self.epochs, self._seconds))


class _EpochBar(EpochProgress):
    """``EpochProgress`` plus a live bar per epoch. Only used on a terminal: any batch
    hook makes Keras fetch every batch's logs from the device, which costs time."""

    def __init__(self, epochs: int, steps: int, eta: bool = True) -> None:
        super().__init__(epochs, steps, eta)
        self._progress: Progress | None = None
        self._task = 0

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        super().on_epoch_begin(epoch, logs)
        self._progress = Progress(
            TextColumn("epoch {task.fields[epoch]}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("loss {task.fields[loss]}"),
            console=self.console,
            transient=True,
        )
        self._progress.start()
        label = f"{epoch + 1}/{self.epochs}"
        self._task = self._progress.add_task("train", total=self.steps, epoch=label, loss="-")

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        if self._progress is not None:
            loss = (logs or {}).get("loss")
            shown = f"{float(loss):.4f}" if loss is not None else "-"
            self._progress.update(self._task, completed=batch + 1, loss=shown)

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None
        super().on_epoch_end(epoch, logs)


def progress_callback(epochs: int, steps: int, eta: bool = True) -> EpochProgress:
    """A bar per epoch on a terminal, summary lines only otherwise (logs, CI).

    ``eta``: say the finish time (off while a time budget has not fixed the epochs).
    """
    terminal = Console(file=sys.stderr).is_terminal
    kind = _EpochBar if terminal else EpochProgress
    return kind(epochs, steps, eta)


def _summary(epoch: int, epochs: int, logs: dict[str, Any], seconds: float) -> str:
    parts = [f"epoch {epoch}/{epochs}"]
    for key in ("loss", "top1", "val_loss", "val_top1", "val_top5"):
        if key in logs:
            parts.append(f"{key} {float(logs[key]):.4f}")
    if "lr" in logs:
        parts.append(f"lr {float(logs['lr']):.3g}")
    parts.append(f"{seconds:.0f} s")
    return "  ".join(parts)
