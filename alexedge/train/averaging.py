"""The mean of a run's last epochs' weights (SWA, Izmailov et al. 2018) as its model.

Why: the best-epoch checkpoint is picked on the validation images that then measure
it, so its figure carries the pick's luck (on Tiny ImageNet-20 the best of 60 epochs
scored 1.1 pt above the last). The mean of the last N epochs involves no choice made on
those images, and on the flat tail of a cosine schedule it smooths the epoch-to-epoch
noise instead of betting on it.

Averaged weights come with batch-norm statistics that belong to none of the averaged
networks, so they are estimated again: one pass over the training images, augmented
as in training but never mixed (mixup/cutmix batches are not images the deployed
model will see), each batch weighted equally (momentum n/(n+1) at batch n gives the
plain mean of the batch statistics, not a moving average).

The running mean lives in ``RUN/average.npz`` with the last epoch it includes, written
atomically each epoch, so a resumed run neither loses nor double-counts an epoch.
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import tensorflow as tf
import tf_keras as keras

from alexedge.atomic import atomic_path
from alexedge.errors import ModelError

__all__ = ["AVERAGE_FILE", "WeightAverage", "recalibrate_batch_norm"]

AVERAGE_FILE = "average.npz"


class WeightAverage(keras.callbacks.Callback):
    """Keeps the mean of ``model``'s weights over epochs ``first_epoch``..end (1-based)."""

    def __init__(self, model: keras.Model, run_dir: Path, first_epoch: int) -> None:
        super().__init__()
        self.network = model  # not ``self.model``: Keras sets that to the trained view
        self.path = run_dir / AVERAGE_FILE
        self.first_epoch = first_epoch
        self.epoch = 0  # the last epoch in the mean
        self.count = 0
        self.mean: list[np.ndarray] = []
        if self.path.is_file():
            self._load()

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        done = epoch + 1
        if done < self.first_epoch or done <= self.epoch:
            return
        weights = self.network.get_weights()
        if self.count == 0:
            self.mean = [np.array(w, np.float64) for w in weights]
        else:
            for mean, w in zip(self.mean, weights, strict=True):
                mean += (w - mean) / (self.count + 1)
        self.count += 1
        self.epoch = done
        self._save()

    def weights(self) -> list[np.ndarray]:
        """The mean, in ``model.get_weights()`` order and dtypes."""
        if not self.count:
            raise ModelError(f"{self.path}: no epoch has been averaged yet")
        current = self.network.get_weights()
        return [m.astype(w.dtype) for m, w in zip(self.mean, current, strict=True)]

    def _save(self) -> None:
        arrays = {f"w{i}": m for i, m in enumerate(self.mean)}
        with atomic_path(self.path) as tmp, open(tmp, "wb") as f:
            np.savez(f, epoch=self.epoch, count=self.count, **arrays)

    def _load(self) -> None:
        hint = "delete the run folder or train it again without --resume"
        try:
            with np.load(self.path) as saved:
                epoch, count = int(saved["epoch"]), int(saved["count"])
                mean = [saved[f"w{i}"] for i in range(len(saved.files) - 2)]
        except (OSError, KeyError, ValueError, zipfile.BadZipFile) as e:
            raise ModelError(f"{self.path}: unreadable weight average ({e}); {hint}") from e
        shapes = [w.shape for w in self.network.get_weights()]
        if [m.shape for m in mean] != shapes:
            raise ModelError(f"{self.path}: the weight average is of another model; {hint}")
        self.epoch, self.count, self.mean = epoch, count, mean


def recalibrate_batch_norm(model: keras.Model, batches: Iterable) -> int:
    """Estimate every BatchNormalization layer's statistics again from ``batches``.

    ``batches`` yields ``(images, labels)`` or images; returns how many were used. The
    layers' momenta are restored afterwards. Runs eagerly: each call reads the momentum
    set for its batch.
    """
    layers = [m for m in model.submodules if isinstance(m, keras.layers.BatchNormalization)]
    if not layers:
        return 0
    momenta = [layer.momentum for layer in layers]
    for layer in layers:
        layer.moving_mean.assign(tf.zeros_like(layer.moving_mean))
        layer.moving_variance.assign(tf.ones_like(layer.moving_variance))
    used = 0
    try:
        for batch in batches:
            images = batch[0] if isinstance(batch, tuple) else batch
            for layer in layers:
                layer.momentum = used / (used + 1)
            model(images, training=True)
            used += 1
    finally:
        for layer, momentum in zip(layers, momenta, strict=True):
            layer.momentum = momentum
    return used
