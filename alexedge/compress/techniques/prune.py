"""Magnitude pruning with tensorflow-model-optimization, safe for batch-norm networks.

wrap (``prune_low_magnitude`` per Conv2D/Dense layer, PolynomialDecay from 0 to the
target) -> fine-tune (``UpdatePruningStep``) -> strip (``strip_pruning``) -> re-estimate
batch norm. Three pitfalls measured on this stack (shared FINDINGS.md) shape it:
the whole-model ``prune_low_magnitude`` fails on the Normalization input layer, so
layers are wrapped one by one (``alexedge.compress.techniques.wrap``); a short schedule leaves BN
moving statistics stale after the last pruning jump, so the schedule reaches its
target early (``prune_end_fraction``) and BN statistics are recomputed after
stripping; and one uniform target over-prunes small, sensitive layers, so targets
can be spread by layer size (``allocate_sparsity``) and the first conv stays dense.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import tensorflow_model_optimization as tfmot
import tf_keras as keras

from alexedge.compress.config import CompressConfig
from alexedge.compress.techniques.finetune import FinetuneData, finetune, steps_per_epoch
from alexedge.compress.techniques.wrap import PRUNABLE, weight_layers, wrap_layers
from alexedge.preprocess import center_crops
from alexedge.train.batch_norm import reestimate_batch_norm

__all__ = [
    "LayerSparsity",
    "allocate_sparsity",
    "bn_images",
    "layer_sparsity",
    "overall_sparsity",
    "prune",
    "refresh_batch_norm",
    "wrap_for_pruning",
]

# ERK-style allocation never leaves a pruned layer with fewer than 2% of its weights.
_MAX_LAYER_SPARSITY = 0.98


@dataclass(frozen=True)
class LayerSparsity:
    layer: str
    weights: int
    zeros: int

    @property
    def sparsity(self) -> float:
        return self.zeros / self.weights if self.weights else 0.0

    def to_dict(self) -> dict[str, object]:
        return {
            "layer": self.layer,
            "weights": self.weights,
            "zeros": self.zeros,
            "sparsity": round(self.sparsity, 4),
        }


def layer_sparsity(model: keras.Model) -> list[LayerSparsity]:
    """Zeros in each Conv2D/Dense kernel (biases are never pruned)."""
    rows = []
    for layer in model.layers:
        if isinstance(layer, PRUNABLE):
            kernel = layer.kernel.numpy()
            rows.append(LayerSparsity(layer.name, kernel.size, int(np.sum(kernel == 0))))
    return rows


def overall_sparsity(rows: list[LayerSparsity], skip: tuple[str, ...] = ()) -> float:
    """Share of zeros over the kernels of the layers not in ``skip``."""
    kept = [r for r in rows if r.layer not in skip]
    total = sum(r.weights for r in kept)
    return sum(r.zeros for r in kept) / total if total else 0.0


def allocate_sparsity(
    shapes: dict[str, tuple[int, ...]], target: float, allocation: str = "uniform"
) -> dict[str, float]:
    """Per-layer sparsity whose weighted mean over ``shapes`` is ``target``.

    ``uniform`` gives every layer the target. ``size`` keeps a share of weights
    proportional to the Erdős-Rényi-Kernel score ``sum(shape) / prod(shape)`` (Evci
    et al. 2020, RigL): layers with many weights per input and output unit are pruned
    hardest (the paper model's fc6, 9216x4096), small layers and the classifier least.
    Which layers those are depends on the model: in ``alexnet-reduced`` at 56-64 px the
    3x3 convolutions outweigh the 512-unit FC layers. Layers whose share would exceed
    1 stay dense and the rest are re-solved.
    """
    if allocation == "uniform" or target == 0:
        return {name: target for name in shapes}
    sizes = {n: math.prod(s) for n, s in shapes.items()}
    score = {n: sum(s) / sizes[n] for n, s in shapes.items()}
    budget = (1 - target) * sum(sizes.values())
    dense: set[str] = set()
    while True:
        free = [n for n in shapes if n not in dense]
        scale = (budget - sum(sizes[n] for n in dense)) / sum(score[n] * sizes[n] for n in free)
        full = [n for n in free if scale * score[n] >= 1]
        if not full:
            break
        dense.update(full)
    return {
        n: 0.0 if n in dense else min(_MAX_LAYER_SPARSITY, 1 - scale * score[n]) for n in shapes
    }


def wrap_for_pruning(
    model: keras.Model, config: CompressConfig, target: float, total_steps: int
) -> keras.Model:
    """``prune_low_magnitude`` around every Conv2D/Dense layer outside ``skip_layers``."""
    layers = weight_layers(model, config.skip_layers)
    targets = allocate_sparsity(
        {layer.name: tuple(layer.kernel.shape) for layer in layers}, target, config.allocation
    )
    end = max(1, round(config.prune_end_fraction * total_steps))
    frequency = config.prune_frequency or max(1, end // 30)

    def wrap(layer: keras.layers.Layer) -> keras.layers.Layer | None:
        if targets.get(layer.name, 0.0) <= 0:
            return None
        schedule = tfmot.sparsity.keras.PolynomialDecay(
            initial_sparsity=0.0,
            final_sparsity=targets[layer.name],
            begin_step=0,
            end_step=end,
            frequency=frequency,
        )
        return tfmot.sparsity.keras.prune_low_magnitude(layer, pruning_schedule=schedule)

    return wrap_layers(model, wrap)


def prune(
    model: keras.Model, data: FinetuneData, config: CompressConfig, target: float
) -> keras.Model:
    """wrap -> fine-tune -> strip -> re-estimate BN to ``target`` sparsity (of the layers
    outside ``config.skip_layers``); ``model`` itself is left untouched."""
    total = steps_per_epoch(data) * config.finetune_epochs
    wrapped = wrap_for_pruning(model, config, target, total)
    finetune(wrapped, data, config, [tfmot.sparsity.keras.UpdatePruningStep()])
    stripped = tfmot.sparsity.keras.strip_pruning(wrapped)
    refresh_batch_norm(stripped, data)
    return stripped


def bn_images(data: FinetuneData, count: int = 40 * 128) -> np.ndarray:
    """Centre crops of up to ``count`` training images: what BN statistics are taken on.

    Evaluation crops, not augmented ones, because the statistics must match what the
    model sees at inference; a subset keeps memory bounded at 227x227 inputs.
    """
    split, size = data.train_split, data.train_config.input_size
    order = np.random.default_rng(0).permutation(len(split))[:count]
    return center_crops((split.images[i] for i in order), size).astype(np.float32)


def refresh_batch_norm(model: keras.Model, data: FinetuneData, batch: int = 128) -> None:
    """Batch-norm statistics of ``model`` again, from centre crops of training images
    (``bn_images``) in batches of ``batch``: kernels changed under them while fine-tuning."""
    images = bn_images(data)
    reestimate_batch_norm(model, (images[i : i + batch] for i in range(0, len(images), batch)))
