"""Magnitude pruning with tensorflow-model-optimization, safe for batch-norm networks.

Two pitfalls measured on this stack (shared FINDINGS.md) shape this module:
``prune_low_magnitude`` on a whole model fails on layers outside tfmot's registry
(the Normalization input layer), so only Conv2D/Dense layers are wrapped through
``clone_model``; and a short schedule leaves BN moving statistics stale after the
last pruning jump, so the schedule ends early and BN statistics are re-estimated
on training images after stripping.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

import numpy as np
import tensorflow_model_optimization as tfmot
import tf_keras as keras

from alexedge.config import CompressConfig, TrainConfig
from alexedge.data.decode import DecodedSplit
from alexedge.data.stats import ChannelStats
from alexedge.train.input_pipeline import eval_inputs, train_dataset
from alexedge.train.loop import compile_for_training
from alexedge.train.schedule import WarmupCosine

__all__ = ["LayerSparsity", "layer_sparsity", "prune_and_finetune", "reestimate_batchnorm"]

_PRUNABLE = (keras.layers.Conv2D, keras.layers.Dense)


@dataclass(frozen=True)
class LayerSparsity:
    layer: str
    weights: int
    zeros: int

    @property
    def sparsity(self) -> float:
        return self.zeros / self.weights if self.weights else 0.0


def layer_sparsity(model: keras.Model) -> list[LayerSparsity]:
    """Zeros in each Conv2D/Dense kernel (biases are never pruned)."""
    rows = []
    for layer in model.layers:
        if isinstance(layer, _PRUNABLE):
            kernel = layer.kernel.numpy()
            rows.append(LayerSparsity(layer.name, kernel.size, int(np.sum(kernel == 0))))
    return rows


def _wrap_for_pruning(model: keras.Model, config: CompressConfig, total_steps: int) -> keras.Model:
    # Reach the target at 60% of fine-tuning: the rest lets BN and weights recover.
    schedule = tfmot.sparsity.keras.PolynomialDecay(
        initial_sparsity=0.0,
        final_sparsity=config.sparsity,
        begin_step=0,
        end_step=max(1, int(0.6 * total_steps)),
        frequency=max(1, total_steps // 30),
    )

    def clone(layer: keras.layers.Layer) -> keras.layers.Layer:
        # A fresh layer each time: wrapping ``layer`` itself would share its variables
        # and fine-tuning would silently overwrite the float model being compressed.
        fresh = layer.__class__.from_config(layer.get_config())
        if isinstance(layer, _PRUNABLE) and layer.name not in config.skip_layers:
            return tfmot.sparsity.keras.prune_low_magnitude(fresh, pruning_schedule=schedule)
        return fresh

    return keras.models.clone_model(model, clone_function=clone)


def prune_and_finetune(
    model: keras.Model,
    train_split: DecodedSplit,
    num_classes: int,
    stats: ChannelStats,
    train_config: TrainConfig,
    config: CompressConfig,
) -> keras.Model:
    """Prune ``model`` to ``config.sparsity`` while fine-tuning; return the stripped model."""
    steps = max(1, len(train_split) // train_config.batch_size)
    total = steps * config.finetune_epochs
    pruned = _wrap_for_pruning(model, config, total)
    pruned.set_weights(_weights_for(pruned, model))
    schedule = WarmupCosine(config.finetune_learning_rate, total, 0)
    compile_for_training(pruned, train_config, schedule, num_classes)
    data = train_dataset(
        train_split,
        num_classes,
        train_config.input_size,
        train_config.batch_size,
        stats,
        train_config.pca_lighting,
        config.seed,
    )
    pruned.fit(
        data,
        epochs=config.finetune_epochs,
        callbacks=[tfmot.sparsity.keras.UpdatePruningStep()],
        verbose=1 if sys.stderr.isatty() else 2,
    )
    stripped = tfmot.sparsity.keras.strip_pruning(pruned)
    reestimate_batchnorm(stripped, eval_inputs(train_split, train_config.input_size))
    return stripped


def _weights_for(pruned: keras.Model, original: keras.Model) -> list[np.ndarray]:
    """The trained weights in the wrapped model's order (wrappers add mask/threshold vars)."""
    by_name = {w.name: w.numpy() for w in original.weights}
    out = []
    for w in pruned.weights:
        key = w.name.replace("prune_low_magnitude_", "")
        out.append(by_name.get(key, w.numpy()))
    return out


def reestimate_batchnorm(model: keras.Model, images: np.ndarray, batches: int = 40) -> None:
    """Recompute BN moving statistics as an exact average over ``batches`` batches.

    Momentum k/(k+1) at batch k turns the exponential average into a plain mean;
    dropout is switched off so the statistics match inference.
    """
    bns = [layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)]
    drops = [layer for layer in model.layers if isinstance(layer, keras.layers.Dropout)]
    if not bns:
        return
    saved = [(b, b.momentum) for b in bns] + [(d, d.rate) for d in drops]
    rng = np.random.default_rng(0)
    order = rng.permutation(len(images))
    batch = 128
    try:
        for d in drops:
            d.rate = 0.0
        for k in range(min(batches, max(1, len(images) // batch))):
            for b in bns:
                b.momentum = k / (k + 1)
            model(images[order[k * batch : (k + 1) * batch]], training=True)
    finally:
        for layer, value in saved:
            if isinstance(layer, keras.layers.BatchNormalization):
                layer.momentum = value
            else:
                layer.rate = value
