"""Fit a model on in-memory or streamed splits, resumably, on any ``tf.distribute`` strategy.

The run directory gets ``last.keras`` (every epoch, with optimizer state),
``best.keras`` (best validation top-1, or the mean of the last epochs with
``average_epochs``: ``average.npz`` holds that mean while it grows), ``history.csv``,
``train_state.json`` and ``tensorboard/`` (scalars and weight histograms per epoch). A
run killed at any moment resumes from the last finished epoch (see
``alexedge.train.callbacks``).

The network is trained through its logits view (``logits_model``): the same layers
and weights as the softmax model, ending at the classifier head's logits, so losses
see logits (``alexedge.train.losses``). The returned and saved models end in the softmax.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import tensorflow as tf
import tf_keras as keras

from alexedge.data.stats import ChannelStats
from alexedge.data.stream import Split
from alexedge.errors import ConfigError, ModelError
from alexedge.progress import say
from alexedge.run import BEST_MODEL
from alexedge.train.averaging import WeightAverage
from alexedge.train.batch_norm import reestimate_batch_norm
from alexedge.train.budget import FirstEpochTimer, plan_epochs, plan_line, planned_config
from alexedge.train.callbacks import (
    EpochRecorder,
    RunState,
    progress_callback,
    read_state,
    write_state,
)
from alexedge.train.checkpoint import Checkpoints
from alexedge.train.config import TrainConfig
from alexedge.train.distribute import is_chief, make_strategy
from alexedge.train.input_pipeline import eval_dataset, train_dataset, train_epochs
from alexedge.train.losses import make_loss
from alexedge.train.models import build_model
from alexedge.train.models.registry import logits_output
from alexedge.train.precision import build_with_precision, float32_model
from alexedge.train.schedule import Scaled, make_schedule
from alexedge.train.transfer import set_frozen, start_from_backbone, training_phases

__all__ = [
    "EVAL_BATCH_SIZE",
    "TENSORBOARD_DIR",
    "TrainResult",
    "build_network",
    "compile_for_training",
    "load_model",
    "logits_model",
    "make_optimizer",
    "steps_per_epoch",
    "train",
]

TENSORBOARD_DIR = "tensorboard"
EVAL_BATCH_SIZE = 256


@dataclass(frozen=True)
class TrainResult:
    model: keras.Model  # what best.keras holds
    best_top1: float  # the best epoch's validation top-1
    epochs_run: int
    weights: str = ""  # which weights the model has, for people: "mean of epochs 51-60"
    planned_epochs: int = 0  # the epochs ``time_budget`` fitted (0: no budget)


def _without_decay(model: keras.Model) -> list[tf.Variable]:
    """Variables that weight decay leaves alone: everything below rank 2.

    Decay regularizes kernels (conv and dense weights, rank >= 2); on biases and
    batch-norm scales and shifts (rank 1) it only pulls them toward zero for no
    benefit. By rank, like nanoGPT, so no layer has to be named a certain way.
    """
    return [v for v in model.trainable_variables if len(v.shape) < 2]


def make_optimizer(
    config: TrainConfig, learning_rate, model: keras.Model | None = None
) -> keras.optimizers.Optimizer:
    """SGD with momentum (Nesterov by default) or AdamW, both with decoupled weight decay.

    Keras applies decay as ``w -= lr * weight_decay * w`` outside the momentum; the
    paper's 5e-4 went through the momentum (sec. 5), a difference that matters little at
    momentum 0.9. For AdamW, ``momentum`` is Adam's ``beta_1``. ``mixed_float16`` adds
    dynamic loss scaling so small float16 gradients do not flush to zero. ``model``'s
    variables below rank 2 get no decay.
    """
    if config.optimizer == "adamw":
        optimizer = keras.optimizers.AdamW(
            learning_rate, weight_decay=config.weight_decay, beta_1=config.momentum
        )
    else:
        optimizer = keras.optimizers.SGD(
            learning_rate,
            momentum=config.momentum,
            nesterov=config.nesterov,
            weight_decay=config.weight_decay or None,
        )
    if model is not None:
        optimizer.exclude_from_weight_decay(var_list=_without_decay(model))
    if config.precision == "mixed_float16":
        optimizer = keras.mixed_precision.LossScaleOptimizer(optimizer)
    return optimizer


def compile_for_training(
    model: keras.Model,
    config: TrainConfig,
    learning_rate,
    num_classes: int,
    from_logits: bool | None = None,
    optimizer: keras.optimizers.Optimizer | None = None,
) -> None:
    """Compile with the config's optimizer, loss, top-1/top-5 metrics and XLA setting.

    ``from_logits`` defaults to whether ``model`` ends in logits rather than a softmax,
    so this also compiles a softmax model (pruning fine-tuning does). ``optimizer``
    recompiles with one that already trained (its steps and momenta carry on).
    """
    if from_logits is None:
        from_logits = not isinstance(model.layers[-1], keras.layers.Softmax)
    model.compile(
        optimizer=optimizer or make_optimizer(config, learning_rate, model),
        loss=make_loss(config, from_logits=from_logits),
        metrics=[
            keras.metrics.CategoricalAccuracy(name="top1"),
            keras.metrics.TopKCategoricalAccuracy(k=min(5, num_classes), name="top5"),
        ],
        jit_compile=config.xla,
    )


def logits_model(model: keras.Model) -> keras.Model:
    """The same network ending at its logits; shares every layer and weight."""
    return keras.Model(model.inputs, logits_output(model), name=f"{model.name}_logits")


def build_network(config: TrainConfig, num_classes: int, stats: ChannelStats) -> keras.Model:
    """The config's softmax model, normalized with ``stats``, in the config's precision."""
    return build_with_precision(
        lambda: build_model(
            config.model,
            num_classes,
            config.input_size,
            mean=stats.mean,
            std=stats.std,
            **config.model_options,
        ),
        config.precision,
    )


def load_model(path: Path, compile: bool = False) -> keras.Model:
    """Load a saved ``.keras`` model, turning unreadable files into ``ModelError``.

    Custom layers, losses and schedules are registered by importing this module.
    """
    if not path.is_file():
        raise ModelError(f"{path}: no such model file")
    try:
        return keras.models.load_model(path, compile=compile)
    except Exception as e:
        raise ModelError(f"{path}: cannot load model ({type(e).__name__}: {e})") from e


def steps_per_epoch(num_images: int, batch_size: int) -> int:
    """Full batches per epoch (``train_dataset`` drops the last partial batch)."""
    return max(1, num_images // batch_size)


@dataclass
class _Session:
    model: keras.Model
    trainer: keras.Model
    schedule: Scaled
    checkpoints: Checkpoints


def _open_session(
    config: TrainConfig,
    num_classes: int,
    stats: ChannelStats,
    run_dir: Path,
    state: RunState,
    steps: int,
    strategy: tf.distribute.Strategy,
) -> _Session:
    """Build (and on resume restore) the model, its logits view and optimizer in scope.

    A fine-tune's model starts from its backbone's layers; resumed, from ``last.keras``.
    """
    with strategy.scope():
        model = build_network(config, num_classes, stats)
        if config.init_from and not state.epochs_done:
            start_from_backbone(model, config)
        trainer = logits_model(model)
        schedule = make_schedule(config, steps, state.lr_scale)
        compile_for_training(trainer, config, schedule, num_classes, from_logits=True)
        if config.freeze_epochs:
            # Slots for every layer now, while all are trainable: the frozen epochs'
            # checkpoints then hold the same optimizer state as the later ones.
            trainer.optimizer.build(trainer.trainable_variables)
        checkpoints = Checkpoints(run_dir, model, trainer.optimizer)
        if state.epochs_done:
            checkpoints.restore_last(trainer.trainable_variables, state.epochs_done * steps)
    return _Session(model, trainer, schedule, checkpoints)


def _set_phase(session: _Session, config: TrainConfig, num_classes: int, frozen: bool) -> None:
    """Freeze or unfreeze a fine-tune's copied layers (``alexedge.train.transfer``).

    Keras sees a change of ``trainable`` only when compiled again; the optimizer is kept,
    so its step count (the schedule's position) and momenta carry on.
    """
    if config.init_from and set_frozen(session.model, frozen):
        with session.trainer.distribute_strategy.scope():
            optimizer = session.trainer.optimizer
            compile_for_training(
                session.trainer, config, session.schedule, num_classes, True, optimizer
            )


def _datasets(
    train_split: Split,
    val_split: Split,
    num_classes: int,
    stats: ChannelStats,
    config: TrainConfig,
    epochs: range,
) -> tuple[tf.data.Dataset, tf.data.Dataset]:
    # Epoch e's batches depend on (seed, e) only: a resumed run replays what the
    # uninterrupted run would have seen. Each epoch is exactly ``steps_per_epoch`` full
    # batches, so epochs stay aligned (a stream that meets a file it cannot read has one
    # image fewer per pass than counted; the epochs then drift, harmlessly).
    train = train_epochs(
        train_split,
        num_classes,
        config.input_size,
        config.batch_size,
        stats,
        config.augmentation,
        config.seed,
        epochs,
        cache_dir=config.cache_dir,
        plain_from=config.epochs - config.plain_epochs,
    )
    val = eval_dataset(val_split, num_classes, config.input_size, EVAL_BATCH_SIZE, config.cache_dir)
    # Every worker builds the same dataset (images or paths); shard it by element.
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return train.with_options(options), val.with_options(options)


def train(
    train_split: Split,
    val_split: Split,
    num_classes: int,
    stats: ChannelStats,
    config: TrainConfig,
    run_dir: Path,
    started: float | None = None,
) -> TrainResult:
    """Train (or resume) in ``run_dir`` and return the best-epoch model.

    Resumes when ``run_dir`` holds ``train_state.json`` from an earlier call with the
    same config; the strategy is created first because a multi-worker strategy must
    exist before TensorFlow runs anything else. ``started``: the run's
    ``time.monotonic()`` at its start, which ``time_budget`` counts from (default: now).
    """
    started = time.monotonic() if started is None else started
    strategy = make_strategy(config.strategy)
    if config.time_budget and isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        # Each worker would plan from its own timing, and unequal plans hang collectives.
        raise ConfigError("--time-budget plans in one process; train a cluster without it")
    keras.utils.set_random_seed(config.seed)
    run_dir.mkdir(parents=True, exist_ok=True)
    state = read_state(run_dir)
    if state.planned_epochs:  # a budgeted run resumes with its plan
        config = planned_config(config, state.planned_epochs)
    if state.finished(config):
        model = load_model(run_dir / BEST_MODEL)
        return _result(model, config, state)
    steps = steps_per_epoch(len(train_split), config.batch_size)
    session = _open_session(config, num_classes, stats, run_dir, state, steps, strategy)
    _set_phase(session, config, num_classes, frozen=state.epochs_done < config.freeze_epochs)
    chief = is_chief(strategy)
    if config.time_budget and not state.planned_epochs:
        data = (train_split, val_split, num_classes, stats)
        config, state = _plan_budget(session, data, config, run_dir, state, steps, started)
    recorder = EpochRecorder(config, state, session.checkpoints, session.schedule, chief)
    callbacks: list[keras.callbacks.Callback] = [recorder]
    average = None
    if chief and config.average_epochs:
        # Before the recorder: an epoch is in the mean before train_state.json counts it.
        first = config.epochs - config.average_epochs + 1
        average = WeightAverage(session.model, run_dir, first)
        callbacks.insert(0, average)
    if chief:
        callbacks += [*_tensorboard(run_dir), progress_callback(config.epochs, steps)]
    # One phase, or a fine-tune's frozen then unfrozen epochs; none when only the
    # averaging was left undone.
    for phase in training_phases(config, state.epochs_done):
        if recorder.state.epochs_finished(config):
            break  # stopped early
        _set_phase(session, config, num_classes, phase.frozen)
        epochs = range(phase.start, phase.stop)
        train_data, val_data = _datasets(train_split, val_split, num_classes, stats, config, epochs)
        session.trainer.fit(
            train_data,
            validation_data=val_data,
            epochs=phase.stop,
            initial_epoch=phase.start,
            steps_per_epoch=steps,
            callbacks=callbacks,
            verbose=0,
        )
    state = recorder.state
    if average is not None:
        _deploy_average(session, average, train_split, num_classes, stats, config)
        state = dataclasses.replace(state, averaged=True)
        write_state(run_dir, state)
    best = load_model(session.checkpoints.best) if chief else session.model
    return _result(best, config, state)


def _result(model: keras.Model, config: TrainConfig, state: RunState) -> TrainResult:
    weights = _weights(config, state)
    return TrainResult(model, state.best_top1, state.epochs_done, weights, state.planned_epochs)


def _plan_budget(
    session: _Session,
    data: tuple[Split, Split, int, ChannelStats],
    config: TrainConfig,
    run_dir: Path,
    state: RunState,
    steps: int,
    started: float,
) -> tuple[TrainConfig, RunState]:
    """Train one epoch on the recipe's schedule, then fit the epochs to the time budget.

    Returns the planned config and the state that records the plan; the schedule is
    replaced by the planned one and the training step traced again to use it.
    """
    chief = is_chief(session.trainer.distribute_strategy)
    recorder = EpochRecorder(config, state, session.checkpoints, session.schedule, chief)
    callbacks: list[keras.callbacks.Callback] = [recorder]
    if chief:
        progress = progress_callback(config.epochs, steps, eta=False)
        callbacks += [*_tensorboard(run_dir), progress]
    timer = FirstEpochTimer(steps, config.batch_size, len(data[1]))
    epoch = state.epochs_done
    train_data, val_data = _datasets(*data, config, range(epoch, epoch + 1))
    session.trainer.fit(
        train_data,
        validation_data=val_data,
        epochs=epoch + 1,
        initial_epoch=epoch,
        steps_per_epoch=steps,
        callbacks=[*callbacks, timer],
        verbose=0,
    )
    timing = timer.timing(config.average_epochs)
    elapsed = time.monotonic() - started
    epochs = plan_epochs(
        config.time_budget * 60, elapsed, timing, config.epochs, epoch + 1, config.freeze_epochs
    )
    planned = planned_config(config, epochs)
    session.schedule.schedule = make_schedule(planned, steps).schedule
    session.trainer.train_function = None  # its trace holds the old schedule's constants
    state = dataclasses.replace(recorder.state, planned_epochs=epochs)
    if chief:
        write_state(run_dir, state)
        say(plan_line(config, epochs, timing, elapsed))
    return planned, state


def _deploy_average(
    session: _Session,
    average: WeightAverage,
    train_split: Split,
    num_classes: int,
    stats: ChannelStats,
    config: TrainConfig,
) -> None:
    """Save the weight average, batch-norm statistics re-estimated, as ``best.keras``."""
    session.model.set_weights(average.weights())
    model = float32_model(session.model)
    # Statistics of images like the test images: without mixing, erasing or
    # TrivialAugment's solarized, equalized, sheared ones.
    batches = train_dataset(
        train_split,
        num_classes,
        config.input_size,
        config.batch_size,
        stats,
        config.augmentation.plain(),
        config.seed,
        cache_dir=config.cache_dir,
    )
    say(
        f"model: the mean of epochs {average.first_epoch}-{average.epoch}; "
        "batch-norm statistics from one pass over the training images"
    )
    reestimate_batch_norm(model, batches)
    session.checkpoints.save_best(model)


def _weights(config: TrainConfig, state: RunState) -> str:
    if config.average_epochs and state.averaged:
        last = state.epochs_done
        return f"mean of epochs {last - config.average_epochs + 1}-{last}"
    return f"epoch {state.best_epoch} (best validation top-1)"


def _tensorboard(run_dir: Path) -> list[keras.callbacks.Callback]:
    # tf.summary needs the tensorboard package (the ``train`` extra installs it); a
    # missing one costs the logs, not the run.
    if importlib.util.find_spec("tensorboard") is None:
        print("[alexedge] tensorboard not installed: no TensorBoard logs", file=sys.stderr)
        return []
    # Histograms once per epoch: weights are what one looks for when training stalls;
    # the graph and profiler add minutes to big runs for little insight here.
    tensorboard = keras.callbacks.TensorBoard(
        log_dir=str(run_dir / TENSORBOARD_DIR),
        histogram_freq=1,
        write_graph=False,
        update_freq="epoch",
        profile_batch=0,
    )
    return [tensorboard]
