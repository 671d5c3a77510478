"""Shared helpers for the compression tests: a tiny trained run folder and assertions.

``make_trained_run`` writes the same files ``alexedge pipeline``'s decode and train
stages write (run-folder contract in ``alexedge.run``), through public functions,
for any registered model: the tiny ``alexnet`` (LRN, towers) needs 67x67 inputs.
Its data are colour classes a tiny model learns in seconds, on purpose: agreement
floors (97% for int8) are only meaningful for a model with confident predictions,
and the built-in synthetic dataset is made hard enough to keep tiny models near chance.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from train_data import write_colour_dataset

from alexedge.data.stats import channel_stats
from alexedge.preprocess import base_size_for
from alexedge.train.config import TrainConfig


def make_trained_run(
    root: Path,
    model: str = "alexnet-reduced",
    classes: int = 3,
    per_class: int = 24,
    val_per_class: int = 20,
    epochs: int = 2,
    width: float | None = None,
    fc_units: int | None = None,
    learning_rate: float = 0.05,
) -> Path:
    """A run folder with a briefly trained tiny ``model``, made by ``alexedge train``'s
    own ``train_run``: exactly what ``compress``, ``package`` and ``report`` read."""
    from alexedge.quiet import import_tensorflow

    import_tensorflow()
    from alexedge.train.models import get_spec
    from alexedge.train.run_config import DataConfig, RunConfig
    from alexedge.train.session import train_run

    spec = get_spec(model)
    size = spec.tiny_input_size
    data = write_colour_dataset(root / "data", classes, per_class, val_per_class, size)
    options = dict(spec.tiny_options)
    config = TrainConfig(
        model=model,
        input_size=size,
        epochs=epochs,
        batch_size=16,
        model_options={
            "width": width or float(options.get("width", 0.25)),
            "fc_units": fc_units or int(options.get("fc_units", 512)),
        },
        learning_rate=learning_rate,
    )
    run = root / "run"
    train_run(RunConfig(DataConfig(data), config), run)
    return run


def file_sparsity(tflite_bytes: bytes) -> float:
    """Share of zeros among the weights stored in a ``.tflite`` file."""
    from alexedge.compress.export.tflite_weights import count_weights

    return count_weights(tflite_bytes).sparsity


def assert_sparsity(model, target: float, skip: tuple[str, ...] = ("conv1",), tol=0.01) -> None:
    """The pruned layers' kernels are ``target`` zeros within ``tol``."""
    from alexedge.compress.techniques.prune import layer_sparsity, overall_sparsity

    got = overall_sparsity(layer_sparsity(model), skip)
    assert abs(got - target) <= tol, f"sparsity {got:.4f}, target {target}"


def keras_zero_share(model) -> float:
    """Zeros among all Conv2D/Dense kernels, the quantity a .tflite file's count matches."""
    from alexedge.compress.techniques.prune import layer_sparsity

    rows = layer_sparsity(model)
    return sum(r.zeros for r in rows) / sum(r.weights for r in rows)


def random_images(n: int, size: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, size, size, 3), dtype=np.uint8)


def tiny_finetune_data(model: str = "alexnet-reduced", n: int = 64, classes: int = 3):
    """Random base images, labels and stats for fine-tuning a tiny model (no files)."""
    from alexedge.compress.techniques.finetune import FinetuneData
    from alexedge.data.decode import DecodedSplit
    from alexedge.train.models import get_spec

    spec = get_spec(model)
    size = spec.tiny_input_size
    images = random_images(n, base_size_for(size))
    labels = (np.arange(n) % classes).astype(np.int32)
    split = DecodedSplit(images, labels, tuple(f"img{i}.png" for i in range(n)), ())
    options = dict(spec.tiny_options)
    config = TrainConfig(
        model=model,
        input_size=size,
        batch_size=16,
        model_options={
            "width": float(options.get("width", 0.25)),
            "fc_units": int(options.get("fc_units", 512)),
        },
    )
    return FinetuneData(split, classes, channel_stats(images), config)


def tiny_model(data, seed: int = 0):
    """The tiny registered model that ``data`` (``tiny_finetune_data``) describes."""
    import tf_keras as keras

    from alexedge.train.models import build_model, get_spec

    keras.utils.set_random_seed(seed)
    tc = data.train_config
    spec = get_spec(tc.model)
    return build_model(
        tc.model,
        data.num_classes,
        tc.input_size,
        mean=data.stats.mean,
        std=data.stats.std,
        **spec.tiny_options,
    )
