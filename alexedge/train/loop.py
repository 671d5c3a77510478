"""Fit a registered model on decoded splits, with checkpoints that allow resuming.

The run directory gets ``last.keras`` (every epoch, with optimizer state),
``best.keras`` (best validation top-1), ``history.csv`` and ``train_state.json``;
all are written atomically, so a run killed at any moment resumes from the last
finished epoch.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path

import tf_keras as keras

from alexedge.atomic import atomic_path, write_json
from alexedge.config import TrainConfig
from alexedge.data.decode import DecodedSplit
from alexedge.data.stats import ChannelStats
from alexedge.errors import ModelError
from alexedge.train.input_pipeline import eval_dataset, train_dataset
from alexedge.train.models import build_model
from alexedge.train.schedule import WarmupCosine

__all__ = ["TrainResult", "compile_for_training", "load_model", "train"]


@dataclass(frozen=True)
class TrainResult:
    model: keras.Model  # the best-epoch weights
    best_top1: float
    epochs_run: int


def compile_for_training(
    model: keras.Model, config: TrainConfig, learning_rate, num_classes: int
) -> None:
    """SGD with Nesterov momentum and decoupled weight decay (none on BN and biases)."""
    optimizer = keras.optimizers.SGD(
        learning_rate=learning_rate,
        momentum=config.momentum,
        nesterov=True,
        weight_decay=config.weight_decay or None,
    )
    optimizer.exclude_from_weight_decay(var_names=["_bn", "bias", "normalize"])
    model.compile(
        optimizer=optimizer,
        loss=keras.losses.CategoricalCrossentropy(label_smoothing=config.label_smoothing),
        metrics=[
            keras.metrics.CategoricalAccuracy(name="top1"),
            keras.metrics.TopKCategoricalAccuracy(k=min(5, num_classes), name="top5"),
        ],
    )


class _EpochCheckpoint(keras.callbacks.Callback):
    def __init__(self, run_dir: Path, best_top1: float) -> None:
        super().__init__()
        self.run_dir = run_dir
        self.best_top1 = best_top1

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        top1 = float((logs or {}).get("val_top1", 0.0))
        if top1 > self.best_top1:
            self.best_top1 = top1
            _save(self.model, self.run_dir / "best.keras")
        _save(self.model, self.run_dir / "last.keras")
        write_json(
            self.run_dir / "train_state.json",
            {"epochs_done": epoch + 1, "best_top1": self.best_top1},
        )


def _save(model: keras.Model, path: Path) -> None:
    with atomic_path(path) as tmp:
        model.save(tmp)


def load_model(path: Path, compile: bool = False) -> keras.Model:
    """Load a saved ``.keras`` model, turning unreadable files into ``ModelError``."""
    if not path.is_file():
        raise ModelError(f"{path}: no such model file")
    try:
        return keras.models.load_model(path, compile=compile)
    except Exception as e:
        raise ModelError(f"{path}: cannot load model ({type(e).__name__}: {e})") from e


def _resume_state(run_dir: Path) -> tuple[int, float]:
    state_file = run_dir / "train_state.json"
    if not state_file.is_file() or not (run_dir / "last.keras").is_file():
        return 0, -1.0
    state = json.loads(state_file.read_text())
    return int(state["epochs_done"]), float(state["best_top1"])


def train(
    train_split: DecodedSplit,
    val_split: DecodedSplit,
    num_classes: int,
    stats: ChannelStats,
    config: TrainConfig,
    run_dir: Path,
) -> TrainResult:
    """Train (or resume) in ``run_dir`` and return the best-epoch model."""
    keras.utils.set_random_seed(config.seed)
    run_dir.mkdir(parents=True, exist_ok=True)
    steps = max(1, len(train_split) // config.batch_size)
    epochs_done, best = _resume_state(run_dir)
    if epochs_done:
        model = load_model(run_dir / "last.keras", compile=True)
    else:
        model = build_model(
            config.model,
            num_classes,
            config.input_size,
            mean=stats.mean,
            std=stats.std,
            **_model_options(config),
        )
        schedule = WarmupCosine(
            config.learning_rate, steps * config.epochs, steps * _warmup_epochs(config)
        )
        compile_for_training(model, config, schedule, num_classes)
    if epochs_done < config.epochs:
        model.fit(
            train_dataset(
                train_split,
                num_classes,
                config.input_size,
                config.batch_size,
                stats,
                config.pca_lighting,
                config.seed,
            ),
            validation_data=eval_dataset(val_split, num_classes, config.input_size, 256),
            epochs=config.epochs,
            initial_epoch=epochs_done,
            callbacks=[
                _EpochCheckpoint(run_dir, best),
                keras.callbacks.CSVLogger(str(run_dir / "history.csv"), append=epochs_done > 0),
            ],
            verbose=1 if sys.stderr.isatty() else 2,
        )
    state = json.loads((run_dir / "train_state.json").read_text())
    return TrainResult(
        load_model(run_dir / "best.keras"), float(state["best_top1"]), int(state["epochs_done"])
    )


def _warmup_epochs(config: TrainConfig) -> int:
    # Never warm up for the whole run: a 1-epoch run (tests, smoke runs) still decays.
    return min(config.warmup_epochs, config.epochs - 1)


def _model_options(config: TrainConfig) -> dict[str, object]:
    if config.model == "alexnet-reduced":
        return {"width": config.width, "fc_units": config.fc_units, "dropout": config.dropout}
    return {}
