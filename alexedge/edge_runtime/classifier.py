"""Classify images with a ``.tflite`` model: ours, or a standard third-party one.

Our exported models take raw RGB 0-255 (normalization is their first layer) and
end in a softmax. Third-party classifiers may instead expect normalized input,
end in logits, or carry a leading "background" class; the ``Classifier`` hides
those differences so callers always get probabilities over named classes.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from alexedge.edge_runtime.interpreter import load_interpreter
from alexedge.errors import ModelError
from alexedge.preprocess import eval_transform

__all__ = ["Classifier", "Prediction", "read_labels"]

# Chunk size for models with a dynamic batch: bounds the activation memory when a
# caller passes thousands of images at once.
_MAX_BATCH = 32
_INPUT_DTYPES = (np.float32, np.float16, np.uint8, np.int8)
# A float softmax row sums to 1 within float32 rounding; a logits row almost never
# lies entirely in [0, 1] with a sum that close to 1.
_PROB_TOLERANCE = 1e-3
# TFLite fixes a quantized softmax output at scale 1/256 with the zero point at the
# type's minimum (uint8: 0, int8: -128), i.e. the range [0, 1).
_SOFTMAX_SCALE = 1 / 256


@dataclass(frozen=True)
class Prediction:
    """One ranked class: its name, its index in the model output, its probability."""

    label: str
    index: int
    score: float

    def __str__(self) -> str:
        return f"{self.label} - score: {self.score:.4f}"


@dataclass(frozen=True)
class _Tensor:
    index: int
    shape: tuple[int, ...]
    dtype: type[np.generic]
    scale: float
    zero_point: int

    @property
    def quantized(self) -> bool:
        return np.issubdtype(self.dtype, np.integer) and self.scale > 0


def read_labels(path: str | os.PathLike[str]) -> list[str]:
    """Class names from a text file, one a line in class-index order.

    Trailing blank lines are ignored (editors add them); blank lines in between are
    kept, so that every later name stays on its class index.
    """
    path = Path(path)
    try:
        lines = [line.strip() for line in path.read_text(encoding="utf-8").splitlines()]
    except FileNotFoundError as e:
        raise ModelError(f"{path}: no such labels file") from e
    except (OSError, UnicodeDecodeError) as e:
        raise ModelError(f"{path}: cannot read labels as UTF-8 text ({e})") from e
    while lines and not lines[-1]:
        lines.pop()
    if not lines:
        raise ModelError(f"{path}: labels file is empty")
    return lines


def _labels_from_sidecar(model_path: Path) -> tuple[list[str], str] | None:
    sidecar = model_path.with_name("labels.txt")
    return (read_labels(sidecar), str(sidecar)) if sidecar.is_file() else None


# Where labels come from when none are given, first match wins. Embedded TFLite
# metadata (the Android assets work) belongs at the front of this tuple.
_LABEL_SOURCES: tuple[Callable[[Path], tuple[list[str], str] | None], ...] = (_labels_from_sidecar,)


class Classifier:
    """A TFLite image classifier whose interpreter is created once and reused.

    Labels come from ``labels`` if given, else from a ``labels.txt`` beside the
    model, else they are ``class_0``, ``class_1``, ... When there is exactly one
    label more than the model has outputs, the first one is a background class
    (the 1001-label ImageNet convention): it is dropped from ``labels``, so
    ``labels[i]`` always names output ``i``, and kept in ``background_label``.

    Args:
        model_path: the ``.tflite`` file.
        labels: class names in output order (overrides any sidecar file).
        threads: interpreter CPU threads; ``None`` lets the backend choose.
        mean: subtracted from raw 0-255 pixels before the model sees them.
        std: divides the pixels after ``mean``. alexedge models normalize inside
            the graph and take raw pixels (``0, 1``); a model that wants [-1, 1]
            input uses ``127.5, 127.5``. Quantized inputs are quantized after this.

    Raises:
        ModelError: the file is not a usable image classifier, or the label count
            does not match its outputs.
    """

    def __init__(
        self,
        model_path: str | os.PathLike[str],
        labels: Sequence[str] | None = None,
        *,
        threads: int | None = None,
        mean: float = 0.0,
        std: float = 1.0,
    ) -> None:
        self.model_path = Path(model_path)
        self._interpreter, self.backend = load_interpreter(self.model_path, threads)
        self._input, self._fixed_batch = _input_tensor(self._interpreter, self.model_path)
        self._output = _output_tensor(self._interpreter, self.model_path)
        self._batch = self._input.shape[0]
        self._mean, self._std = float(mean), float(std)
        self.num_classes = int(np.prod(self._output.shape[1:]))
        found = _find_labels(labels, self.model_path, self.num_classes)
        self.labels, self.background_label = _match_labels(*found, self.num_classes, model_path)

    def __repr__(self) -> str:
        size, dtype = self.input_size, np.dtype(self._input.dtype).name
        return (
            f"Classifier({str(self.model_path)!r}, backend={self.backend!r}, "
            f"input={size}x{size}x3 {dtype}, classes={self.num_classes})"
        )

    @property
    def input_size(self) -> int:
        """Side of the square input in pixels, as ``eval_transform`` needs it."""
        return self._input.shape[1]

    @property
    def input_dtype(self) -> np.dtype:
        return np.dtype(self._input.dtype)

    def predict(self, batch_uint8: np.ndarray) -> np.ndarray:
        """Class probabilities for preprocessed images.

        Args:
            batch_uint8: ``uint8`` RGB of shape (N, S, S, 3) (or one (S, S, 3)
                image), already through ``eval_transform`` at ``input_size``.

        Returns:
            ``float32`` (N, num_classes), each row summing to 1 (within the
            rounding of a quantized output).
        """
        batch = self._check_batch(batch_uint8)
        step = self._fixed_batch or _MAX_BATCH
        parts = [self._predict_chunk(batch[i : i + step]) for i in range(0, len(batch), step)]
        return np.concatenate(parts) if parts else np.empty((0, self.num_classes), np.float32)

    def classify(
        self, source: str | os.PathLike[str] | bytes | np.ndarray, top: int = 5
    ) -> list[Prediction]:
        """The ``top`` most likely classes, highest first, for one image.

        ``source`` is an image file (path or its bytes) or a decoded RGB ``uint8``
        (H, W, 3) array of any size; it goes through the same ``eval_transform``
        as validation during training. Raises ``DataError`` for an unreadable image.
        """
        if isinstance(source, np.ndarray) and (source.ndim != 3 or source.shape[2] != 3):
            raise ValueError(f"expected an RGB image of shape (H, W, 3), got {source.shape}")
        pixels = eval_transform(source, self.input_size)
        return self.top_k(self.predict(pixels[None])[0], top)

    def top_k(self, probs: np.ndarray, top: int = 5) -> list[Prediction]:
        """Rank one row of ``predict``; ties keep the lower class index first."""
        if top < 1:
            raise ValueError(f"top must be at least 1, got {top}")
        order = np.argsort(-probs, kind="stable")[:top]
        return [Prediction(self.labels[i], int(i), float(probs[i])) for i in order]

    def _check_batch(self, batch: np.ndarray) -> np.ndarray:
        batch = np.asarray(batch)
        if batch.ndim == 3:
            batch = batch[None]
        size = self.input_size
        if batch.dtype != np.uint8 or batch.shape[1:] != (size, size, 3):
            raise ValueError(
                f"expected uint8 images of shape (N, {size}, {size}, 3) from eval_transform, "
                f"got {batch.dtype} {batch.shape}"
            )
        return batch

    def _predict_chunk(self, pixels: np.ndarray) -> np.ndarray:
        count = len(pixels)
        if self._fixed_batch and count < self._fixed_batch:
            padding = np.zeros((self._fixed_batch - count, *pixels.shape[1:]), np.uint8)
            pixels = np.concatenate([pixels, padding])
        elif not self._fixed_batch and count != self._batch:
            self._interpreter.resize_tensor_input(self._input.index, [count, *pixels.shape[1:]])
            self._interpreter.allocate_tensors()
            self._batch = count
        self._interpreter.set_tensor(self._input.index, self._model_input(pixels))
        self._interpreter.invoke()
        raw = self._interpreter.get_tensor(self._output.index)
        return self._probabilities(raw.reshape(len(raw), -1))[:count]

    def _model_input(self, pixels: np.ndarray) -> np.ndarray:
        spec = self._input
        x = pixels.astype(np.float32)
        if (self._mean, self._std) != (0.0, 1.0):
            x = (x - self._mean) / self._std
        if not np.issubdtype(spec.dtype, np.integer):
            return x.astype(spec.dtype)
        if spec.quantized:
            x = np.round(x / spec.scale) + spec.zero_point
        limits = np.iinfo(spec.dtype)
        return np.clip(x, limits.min, limits.max).astype(spec.dtype)

    def _probabilities(self, raw: np.ndarray) -> np.ndarray:
        spec = self._output
        scores = raw.astype(np.float32)
        if spec.quantized:
            scores = (scores - spec.zero_point) * np.float32(spec.scale)
            if _is_quantized_softmax(spec):
                return scores
        return _softmax_unless_probabilities(scores)


def _tensor(details: dict[str, Any]) -> _Tensor:
    scale, zero_point = details.get("quantization", (0.0, 0))
    return _Tensor(
        index=int(details["index"]),
        shape=tuple(int(d) for d in details["shape"]),
        dtype=details["dtype"],
        scale=float(scale),
        zero_point=int(zero_point),
    )


def _input_tensor(interpreter: Any, path: Path) -> tuple[_Tensor, int | None]:
    """The image input and its fixed batch size (``None`` when it can be resized)."""
    inputs = interpreter.get_input_details()
    if len(inputs) != 1:
        raise ModelError(f"{path}: expected one image input tensor, the model has {len(inputs)}")
    spec = _tensor(inputs[0])
    shape = spec.shape
    if len(shape) != 4 or shape[3] != 3 or shape[1] != shape[2]:
        raise ModelError(
            f"{path}: expected a square RGB image input (N, S, S, 3), the model takes {shape}"
        )
    if spec.dtype not in _INPUT_DTYPES:
        raise ModelError(f"{path}: unsupported input type {np.dtype(spec.dtype).name}")
    signature = inputs[0].get("shape_signature", shape)
    return spec, (None if int(signature[0]) == -1 else shape[0])


def _output_tensor(interpreter: Any, path: Path) -> _Tensor:
    outputs = interpreter.get_output_details()
    if len(outputs) != 1:
        raise ModelError(
            f"{path}: expected one output tensor of class scores, the model has {len(outputs)}"
        )
    return _tensor(outputs[0])


def _is_quantized_softmax(spec: _Tensor) -> bool:
    return abs(spec.scale - _SOFTMAX_SCALE) < 1e-9 and spec.zero_point == np.iinfo(spec.dtype).min


def _softmax_unless_probabilities(scores: np.ndarray) -> np.ndarray:
    """Softmax each row that is not already a probability distribution.

    Decided per row, so an image's result never depends on the rest of its batch.
    """
    low, high = scores.min(axis=1), scores.max(axis=1)
    in_range = (low >= -_PROB_TOLERANCE) & (high <= 1 + _PROB_TOLERANCE)
    is_probs = in_range & (np.abs(scores.sum(axis=1) - 1) <= _PROB_TOLERANCE)
    if is_probs.all():
        return scores
    shifted = np.exp(scores - scores.max(axis=1, keepdims=True))
    softmax = shifted / shifted.sum(axis=1, keepdims=True)
    return np.where(is_probs[:, None], scores, softmax).astype(np.float32)


def _find_labels(
    explicit: Sequence[str] | None, model_path: Path, num_classes: int
) -> tuple[list[str], str]:
    """The labels and a description of where they came from, for error messages."""
    if explicit is not None:
        return [str(label) for label in explicit], "the labels given"
    for source in _LABEL_SOURCES:
        found = source(model_path)
        if found is not None:
            return found
    return [f"class_{i}" for i in range(num_classes)], "default labels"


def _match_labels(
    labels: list[str], origin: str, num_classes: int, model_path: str | os.PathLike[str]
) -> tuple[tuple[str, ...], str | None]:
    if len(labels) == num_classes:
        return tuple(labels), None
    if len(labels) == num_classes + 1:
        return tuple(labels[1:]), labels[0]
    raise ModelError(
        f"{model_path}: the model has {num_classes} output classes but {origin} has "
        f"{len(labels)} labels; give one label per class (optionally plus a leading "
        "background label)"
    )
