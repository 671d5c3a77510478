"""Best and last checkpoints of a run, and restoring the last one to resume.

Both are ordinary ``.keras`` files of the softmax model, so anything that loads a
model loads either. ``best.keras``, the deployable one, is always float32: a mixed
precision run keeps its policy only in ``last.keras``, which resumes it. ``last.keras``
also holds the optimizer state (step counter, momenta): it is saved through a second,
compiled view of the same layers, because the model being trained is the logits view
(``loop.logits_model``) and the softmax model itself is never compiled. Files are
written atomically: a kill leaves the previous checkpoint intact.
"""

from __future__ import annotations

import contextlib
import zipfile
from collections.abc import Iterator
from pathlib import Path

import tf_keras as keras

from alexedge.atomic import atomic_path
from alexedge.errors import ModelError
from alexedge.run import BEST_MODEL, LAST_MODEL
from alexedge.train.precision import float32_model

__all__ = ["Checkpoints"]


class Checkpoints:
    """Saves ``model`` (+ ``optimizer`` for ``last``) in ``run_dir``; build it inside
    the distribution strategy's scope, like the model."""

    def __init__(self, run_dir: Path, model: keras.Model, optimizer: keras.optimizers.Optimizer):
        self.run_dir = run_dir
        self.model = model
        self.optimizer = optimizer
        self._stateful = keras.Model(model.inputs, model.outputs, name=model.name)
        self._stateful.compile(optimizer=optimizer)

    @property
    def last(self) -> Path:
        return self.run_dir / LAST_MODEL

    @property
    def best(self) -> Path:
        return self.run_dir / BEST_MODEL

    def save_best(self, model: keras.Model | None = None) -> None:
        """Save ``model`` (default: the trained one) in float32 as the deployable file."""
        model = self.model if model is None else model
        with _all_trainable(model):
            _save(float32_model(model), self.best)

    def save_last(self) -> None:
        with _all_trainable(self._stateful):
            _save(self._stateful, self.last)

    def restore_last(self, trainable: list, expected_steps: int) -> None:
        """Load weights and optimizer state from ``last.keras``.

        ``trainable`` are the variables the optimizer updates (its slots are created for
        them first). ``expected_steps`` is what ``train_state.json`` says the optimizer
        has done; a mismatch means the files do not belong together.

        Raises:
            ModelError: the checkpoint is missing, corrupt, from another model, or
                out of step with ``train_state.json``.
        """
        path = self.last
        hint = "delete the run folder or train it again without --resume"
        if not path.is_file() or not zipfile.is_zipfile(path):
            raise ModelError(f"{path}: missing or not a Keras checkpoint; {hint}")
        self.optimizer.build(trainable)
        try:
            self._stateful.load_weights(path)
        except Exception as e:  # h5py/zip/shape errors all mean the same to the user
            raise ModelError(f"{path}: corrupt checkpoint ({type(e).__name__}: {e}); {hint}") from e
        steps = int(self.optimizer.iterations.numpy())
        if steps != expected_steps:
            raise ModelError(
                f"{path}: checkpoint has {steps} optimizer steps but train_state.json "
                f"expects {expected_steps}; {hint}"
            )


@contextlib.contextmanager
def _all_trainable(model: keras.Model) -> Iterator[None]:
    """Every layer trainable while ``model`` is saved, frozen ones frozen again after.

    A fine-tune's frozen layers (``alexedge.train.transfer``) are frozen for its first
    epochs only; a saved file that said so would keep them frozen wherever it is
    loaded (compression fine-tunes best.keras). The training step already traced
    which variables it updates, so the flags' brief change does not reach it.
    """
    frozen = [layer for layer in model.layers if not layer.trainable]
    for layer in frozen:
        layer.trainable = True
    try:
        yield
    finally:
        for layer in frozen:
            layer.trainable = False


def _save(model: keras.Model, path: Path) -> None:
    with atomic_path(path) as tmp:
        model.save(tmp)
