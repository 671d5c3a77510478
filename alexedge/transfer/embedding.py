"""``alexedge embed``: one vector per image from a run's Keras model or an embedder file.

The model is a run folder (its ``best.keras``), a ``.keras`` file, or an embedder
``.tflite``; the last needs no TensorFlow (``edge_runtime.Embedder``), so vectors made
on a phone-sized install are compared with the training machine's by the same probe and
clusters. Every image goes through the project's one evaluation preprocessing
(``alexedge.preprocess.eval_transform``: shorter side resized, centre crop).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from alexedge.errors import ConfigError, ModelError
from alexedge.preprocess import eval_transform
from alexedge.progress import progress_bar
from alexedge.run import BEST_MODEL
from alexedge.transfer.feature_file import Features
from alexedge.transfer.images import SPLITS, ImageList, resolve_images

if TYPE_CHECKING:
    import tf_keras as keras

__all__ = ["EmbedConfig", "embed", "keras_vectors"]


@dataclass(frozen=True)
class EmbedConfig:
    """How to embed.

    Attributes:
        layer: the layer whose output is the vector (``None``: the input of ``fc8``);
            a Keras model only, an embedder file's layer is fixed when it is exported.
        split: ``train``, ``val``, ``test`` or ``all`` of a dataset folder.
        batch_size: images per forward pass.
        threads: interpreter threads for a ``.tflite`` (``None``: the backend's choice).
    """

    layer: str | None = None
    split: str = "val"
    batch_size: int = 64
    threads: int | None = None

    def __post_init__(self) -> None:
        if self.split not in SPLITS:
            raise ConfigError(f"--split {self.split!r}: choose one of {', '.join(SPLITS)}")
        if self.batch_size < 1:
            raise ConfigError(f"--batch-size must be at least 1, got {self.batch_size}")


def embed(
    model: str | os.PathLike[str], inputs: list[Path], config: EmbedConfig | None = None
) -> Features:
    """Vectors of ``inputs`` (see ``resolve_images``) from ``model``.

    Raises:
        ModelError: ``model`` is not a run folder, a ``.keras`` or a ``.tflite`` file.
        ConfigError: an unknown layer (the message lists them), or ``--layer`` with a
            ``.tflite`` that was exported at another layer.
        DataError: the inputs cannot be read.
    """
    config = config or EmbedConfig()
    model = Path(model)
    run_dir = model if model.is_dir() else None
    images = resolve_images(inputs, config.split, run_dir)
    if model.suffix == ".tflite":
        return _embed_tflite(model, images, config)
    keras_file = model / BEST_MODEL if run_dir is not None else model
    if keras_file.suffix != ".keras" or not keras_file.is_file():
        raise ModelError(
            f"{model}: give a run folder (with {BEST_MODEL}), a .keras model or an "
            "embedder .tflite (alexedge package RUN --embedder)"
        )
    return _embed_keras(keras_file, images, config)


def _embed_tflite(model: Path, images: ImageList, config: EmbedConfig) -> Features:
    from alexedge.edge_runtime.embedder import Embedder

    embedder = Embedder(model, threads=config.threads)
    if config.layer is not None and config.layer != embedder.layer:
        raise ConfigError(
            f"--layer {config.layer!r}: {model} was exported at layer {embedder.layer!r}; "
            "export another with alexedge package RUN --embedder --layer NAME"
        )
    batches = _batches(images.files, config.batch_size, f"embedding {len(images.files)} images")
    vectors = [embedder.embed_files(batch) for batch in batches]
    return _features(np.concatenate(vectors), images, embedder.layer, model)


def _embed_keras(keras_file: Path, images: ImageList, config: EmbedConfig) -> Features:
    from alexedge.quiet import import_tensorflow

    import_tensorflow()
    from alexedge.train.loop import load_model
    from alexedge.transfer.extractor import feature_model

    extractor, layer = feature_model(load_model(keras_file), config.layer)
    description = f"embedding {len(images.files)} images"
    vectors = keras_vectors(extractor, images.files, config.batch_size, description)
    return _features(vectors, images, layer, keras_file)


def keras_vectors(
    extractor: keras.Model,
    files: Sequence[str],
    batch_size: int = 64,
    progress: str | None = None,
) -> np.ndarray:
    """``extractor``'s vectors of image files, batch by batch, in inference mode.

    ``progress``: a description to show a progress bar under (``None``: silent).
    """
    size = int(extractor.input_shape[1])
    parts = []
    for batch in _batches(files, batch_size, progress):
        pixels = np.stack([eval_transform(f, size) for f in batch]).astype(np.float32)
        parts.append(np.asarray(extractor(pixels, training=False)))
    return np.concatenate(parts).astype(np.float32)


def _batches(
    files: Sequence[str], batch_size: int, progress: str | None
) -> Iterator[Sequence[str]]:
    batches = [files[i : i + batch_size] for i in range(0, len(files), batch_size)]
    yield from batches if progress is None else progress_bar(batches, progress)


def _features(vectors: np.ndarray, images: ImageList, layer: str, source: Path) -> Features:
    return Features(vectors, images.labels, images.files, images.class_names, layer, str(source))
