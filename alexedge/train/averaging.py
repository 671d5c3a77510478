"""The mean of a run's last epochs' weights (SWA, Izmailov et al. 2018) as its model.

Why: the best-epoch checkpoint is picked on the validation images that then measure
it, so its figure carries the pick's luck (on Tiny ImageNet-20 the best of 60 epochs
scored 1.1 pt above the last). The mean of the last N epochs involves no choice made on
those images, and on the flat tail of a cosine schedule it smooths the epoch-to-epoch
noise instead of betting on it.

Averaged weights come with batch-norm statistics that belong to none of the averaged
networks, so they are estimated again (``alexedge.train.batch_norm``): one pass over
the training images, augmented as in training but never mixed (mixup/cutmix batches
are not images the deployed model will see).

The running mean lives in ``RUN/average.npz`` with the last epoch it includes, written
atomically each epoch, so a resumed run neither loses nor double-counts an epoch.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import tf_keras as keras

from alexedge.atomic import atomic_path
from alexedge.errors import ModelError

__all__ = ["AVERAGE_FILE", "WeightAverage"]

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
