"""Fine-tune a wrapped model on the run's training data: the second step of the chain.

Pruning, clustering and quantization-aware training all recover accuracy the same
way: the training recipe of the run (same augmentation, optimizer and loss from
``alexedge.train``), a short warm-up-free cosine schedule from a small peak rate,
and the technique's own callbacks (``UpdatePruningStep`` for pruning). Progress is
training's own epoch lines (``train.callbacks.progress_callback``), not Keras' ``fit``
output, so a fine-tune reads like every other line a command prints.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import tf_keras as keras

from alexedge.compress.config import CompressConfig
from alexedge.data.decode import DecodedSplit
from alexedge.data.stats import ChannelStats
from alexedge.train.callbacks import progress_callback
from alexedge.train.config import TrainConfig
from alexedge.train.input_pipeline import train_dataset
from alexedge.train.loop import compile_for_training
from alexedge.train.schedule import WarmupCosine

__all__ = ["FinetuneData", "finetune", "steps_per_epoch"]


@dataclass(frozen=True)
class FinetuneData:
    """What every fine-tune needs from the run: its decoded training split and recipe."""

    train_split: DecodedSplit
    num_classes: int
    stats: ChannelStats
    train_config: TrainConfig


def steps_per_epoch(data: FinetuneData) -> int:
    return max(1, len(data.train_split) // data.train_config.batch_size)


def _ends_in_logits(model: keras.Model) -> bool:
    # Look inside tfmot's wrappers: a QAT model ends in QuantizeWrapperV2(Softmax), and
    # taking its probabilities for logits would train on the wrong loss.
    last = model.layers[-1]
    return not isinstance(getattr(last, "layer", last), keras.layers.Softmax)


def finetune(
    model: keras.Model,
    data: FinetuneData,
    config: CompressConfig,
    callbacks: Sequence[keras.callbacks.Callback] = (),
    learning_rate: float | None = None,
) -> None:
    """Train ``model`` in place for ``config.finetune_epochs`` epochs."""
    # The dropout masks draw from Keras' global random state, which nothing in a
    # compress run (the model comes from a file) has seeded: without this, the same
    # fine-tune gave different weights in each process.
    keras.utils.set_random_seed(config.seed)
    total = steps_per_epoch(data) * config.finetune_epochs
    peak = learning_rate or config.finetune_learning_rate
    schedule = WarmupCosine(peak, total, 0)
    compile_for_training(
        model, data.train_config, schedule, data.num_classes, from_logits=_ends_in_logits(model)
    )
    tc = data.train_config
    augmentation = tc.augmentation
    if not config.finetune_mixing:
        augmentation = replace(augmentation, mixup=0.0, cutmix=0.0)
    batches = train_dataset(
        data.train_split,
        data.num_classes,
        tc.input_size,
        tc.batch_size,
        data.stats,
        augmentation,
        config.seed,
    )
    progress = progress_callback(config.finetune_epochs, steps_per_epoch(data))
    model.fit(batches, epochs=config.finetune_epochs, callbacks=[*callbacks, progress], verbose=0)
