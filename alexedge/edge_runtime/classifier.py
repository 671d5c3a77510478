"""Classify images with a ``.tflite`` model: ours, or a standard third-party one.

Our exported models take raw RGB 0-255 (normalization is their first layer) and
end in a softmax. Third-party classifiers may instead expect normalized input,
end in logits, or carry a leading "background" class; the ``Classifier`` hides
those differences so callers always get probabilities over named classes.

How pixels become the input tensor is decided once per model, first match wins:

1. ``mean``/``std`` given to the constructor (``--mean/--std``): applied, then
   quantized with the input tensor's scale and zero point if it is quantized.
2. The NormalizationOptions in the model's TFLite metadata.
3. ``input.normalization`` in an alexedge ``manifest.json`` beside the model.
4. Nothing: mean 0, std 1 (raw pixels), with one warning line for a float input,
   where a wrong guess silently ruins every answer.

Then, by input type: a float input takes ``(pixels - mean) / std``; an int8 input
takes that value quantized with the tensor's scale and zero point; a uint8 input
takes the raw pixels unless ``mean``/``std`` were given explicitly, because the
tensor's quantization already encodes the normalization (scale 1/128 and zero
point 128 mean "trained on [-1, 1]"), which is what MediaPipe Tasks does too.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from alexedge.edge_runtime.interpreter import load_interpreter
from alexedge.edge_runtime.metadata import read_input_normalization, read_labels_from_metadata
from alexedge.errors import ConfigError, ModelError
from alexedge.metrics import ranked_classes
from alexedge.modes import input_dtypes
from alexedge.preprocess import eval_transform, squash_transform

__all__ = [
    "RESIZE_MODES",
    "Classifier",
    "InputNormalization",
    "Prediction",
    "decide_normalization",
    "prediction_text",
    "read_labels",
]

# crop: the training evaluation transform (shorter side, centre crop); squash: the
# whole image resized to the input, as most phone camera pipelines do.
RESIZE_MODES: dict[str, Callable[[Any, int], np.ndarray]] = {
    "crop": eval_transform,
    "squash": squash_transform,
}
# Chunk size for models with a dynamic batch: bounds the activation memory when a
# caller passes thousands of images at once.
_MAX_BATCH = 32
# Every input type a quantization mode of ours produces, and float16 inputs that some
# third-party classifiers have.
_INPUT_DTYPES = frozenset(np.dtype(d) for d in (*input_dtypes(), "float16"))
# A float softmax row sums to 1 within float32 rounding; a logits row almost never
# lies entirely in [0, 1] with a sum that close to 1.
_PROB_TOLERANCE = 1e-3
# Its float32 bounds, as Python floats.
_PROB_LOW = float(np.float32(-_PROB_TOLERANCE))
_PROB_HIGH = float(np.float32(1 + _PROB_TOLERANCE))
_PROB_SUM_TOLERANCE = float(np.float32(_PROB_TOLERANCE))
# TFLite fixes a quantized softmax output at scale 1/256 with the zero point at the
# type's minimum (uint8: 0, int8: -128), i.e. the range [0, 1).
_SOFTMAX_SCALE = 1 / 256
_PIXELS = np.arange(256, dtype=np.float32)
_FROM_OPTIONS = "options"
_ASSUMED = "none"


@dataclass(frozen=True)
class Prediction:
    """One ranked class: its name, its index in the model output, its probability."""

    label: str
    index: int
    score: float

    def __str__(self) -> str:
        return prediction_text(self.label, self.score)


def prediction_text(label: str, score: float) -> str:
    """A ranked class as ``alexedge classify`` prints it: ``label - score: 0.5758``."""
    return f"{label} - score: {score:.4f}"


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


@dataclass(frozen=True)
class InputNormalization:
    """``(pixels - mean) / std`` per RGB channel, and where those numbers came from.

    ``source`` is ``"options"``, ``"metadata"``, the path of the ``manifest.json``
    that said so, or ``"none"`` when nothing did and 0 and 1 are assumed.
    """

    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    source: str


def _channels(values: Any, what: str, origin: str) -> tuple[float, float, float]:
    """One value for all channels or one per channel (R, G, B), as three floats."""
    try:
        floats = [float(v) for v in np.asarray(values, dtype=np.float64).reshape(-1)]
    except (TypeError, ValueError) as e:
        raise ConfigError(f"{origin}: {what} must be numbers, got {values!r}") from e
    if not np.isfinite(floats).all():
        raise ConfigError(f"{origin}: {what} must be finite numbers, got {values!r}")
    if len(floats) not in (1, 3):
        raise ConfigError(f"{origin}: {what} takes one value or three (R, G, B), got {len(floats)}")
    if what == "std" and 0.0 in floats:
        raise ConfigError(f"{origin}: std must not be 0")
    return (floats[0],) * 3 if len(floats) == 1 else (floats[0], floats[1], floats[2])


def _normalization_from_options(mean: Any, std: Any) -> InputNormalization | None:
    if mean is None and std is None:
        return None
    return InputNormalization(
        _channels(0.0 if mean is None else mean, "mean", "--mean"),
        _channels(1.0 if std is None else std, "std", "--std"),
        _FROM_OPTIONS,
    )


def _normalization_from_metadata(model_path: Path) -> InputNormalization | None:
    found = read_input_normalization(model_path)
    if found is None:
        return None
    origin = f"{model_path}: metadata NormalizationOptions"
    try:
        return InputNormalization(
            _channels(found[0], "mean", origin), _channels(found[1], "std", origin), "metadata"
        )
    except ConfigError as e:
        raise ModelError(str(e)) from e


def _normalization_from_manifest(model_path: Path) -> InputNormalization | None:
    """An alexedge bundle's ``manifest.json``, if it describes this model file.

    Today's bundles write ``{"mean": [0.0], "std": [1.0], ...}``; older ones wrote a
    sentence starting with "none" (raw pixels), which means the same.
    """
    manifest = model_path.with_name("manifest.json")
    try:
        doc = json.loads(manifest.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None  # absent, or not ours: a folder may hold anyone's manifest.json
    if not isinstance(doc, dict) or doc.get("model", model_path.name) != model_path.name:
        return None
    section = doc.get("input")
    given = section.get("normalization") if isinstance(section, dict) else None
    if given is None:
        return None
    if isinstance(given, str) and given.startswith("none"):
        return InputNormalization((0.0,) * 3, (1.0,) * 3, str(manifest))
    if not isinstance(given, dict) or "mean" not in given or "std" not in given:
        raise ModelError(
            f'{manifest}: input.normalization must be {{"mean": [...], "std": [...]}}, '
            f"got {given!r}; fix it or pass --mean/--std"
        )
    origin = str(manifest)
    try:
        mean, std = _channels(given["mean"], "mean", origin), _channels(given["std"], "std", origin)
    except ConfigError as e:
        raise ModelError(str(e)) from e
    return InputNormalization(mean, std, origin)


def decide_normalization(
    model_path: str | os.PathLike[str], mean: Any = None, std: Any = None
) -> InputNormalization:
    """The normalization a model's input expects, from the first source that says.

    Options, then the model's metadata, then an alexedge ``manifest.json`` beside it,
    else mean 0 and std 1 with ``source="none"``.

    Raises:
        ConfigError: ``mean``/``std`` are not one or three numbers, or std is 0.
        ModelError: the metadata or the manifest holds unusable values.
    """
    path = Path(model_path)
    return (
        _normalization_from_options(mean, std)
        or _normalization_from_metadata(path)
        or _normalization_from_manifest(path)
        or InputNormalization((0.0,) * 3, (1.0,) * 3, _ASSUMED)
    )


def _labels_from_metadata(model_path: Path) -> tuple[list[str], str] | None:
    labels = read_labels_from_metadata(model_path)
    return (labels, f"the labels in {model_path}'s metadata") if labels is not None else None


def _labels_from_sidecar(model_path: Path) -> tuple[list[str], str] | None:
    sidecar = model_path.with_name("labels.txt")
    return (read_labels(sidecar), str(sidecar)) if sidecar.is_file() else None


# Where labels come from when none are given, first match wins.
_LABEL_SOURCES: tuple[Callable[[Path], tuple[list[str], str] | None], ...] = (
    _labels_from_metadata,
    _labels_from_sidecar,
)


class Classifier:
    """A TFLite image classifier whose interpreter is created once and reused.

    Labels come from ``labels`` if given, else from the model's metadata (its
    TENSOR_AXIS_LABELS file), else from a ``labels.txt`` beside the model, else they
    are ``class_0``, ``class_1``, ... When there is exactly one label more than the
    model has outputs, the first one is a background class (the 1001-label ImageNet
    convention): it is dropped from ``labels``, so ``labels[i]`` always names output
    ``i``, and kept in ``background_label``. The input normalization is decided as
    the module docstring says and kept in ``normalization``.

    ``preprocess`` touches no interpreter state, so callers may run it in worker
    threads while one thread calls ``predict``.

    Args:
        model_path: the ``.tflite`` file.
        labels: class names in output order (overrides metadata and sidecar file).
        threads: interpreter CPU threads; ``None`` lets the backend choose.
        mean: subtracted from raw 0-255 pixels: one value or three (R, G, B).
            ``None``: from the model's metadata or manifest, else 0.
        std: divides the pixels after ``mean``, one value or three; ``None`` as
            for ``mean``, else 1. A model trained on [-1, 1] wants 127.5 and 127.5.
        resize: ``"crop"`` (the training evaluation transform: shorter side, centre
            crop) or ``"squash"`` (the whole image resized to the input square).

    Raises:
        ModelError: the file is not a usable image classifier, its metadata is
            corrupt, or the label count does not match its outputs.
        ConfigError: bad ``mean``, ``std``, ``resize`` or ``threads``.
    """

    def __init__(
        self,
        model_path: str | os.PathLike[str],
        labels: Sequence[str] | None = None,
        *,
        threads: int | None = None,
        mean: float | Sequence[float] | None = None,
        std: float | Sequence[float] | None = None,
        resize: str = "crop",
    ) -> None:
        if resize not in RESIZE_MODES:
            raise ConfigError(f"resize must be one of {', '.join(RESIZE_MODES)}, got {resize!r}")
        self.model_path = Path(model_path)
        self.resize = resize
        self._transform = RESIZE_MODES[resize]
        self._interpreter, self.backend = load_interpreter(self.model_path, threads)
        self._input, self._fixed_batch = _input_tensor(self._interpreter, self.model_path)
        self._output = _output_tensor(self._interpreter, self.model_path)
        self._batch = self._input.shape[0]
        self.num_classes = int(np.prod(self._output.shape[1:]))
        self.normalization = decide_normalization(self.model_path, mean, std)
        self._pixel_table = _pixel_table(self._input, self.normalization)
        self._float_norm = _float_normalization(self._input, self.normalization)
        self._dequantized = _dequantization_table(self._output)
        self._softmax_output = self._output.quantized and _is_quantized_softmax(self._output)
        found = _find_labels(labels, self.model_path, self.num_classes)
        self.labels, self.background_label = _match_labels(*found, self.num_classes, model_path)
        warning = _input_warning(self._input, self.normalization)
        if warning:
            print(f"warning: {self.model_path}: {warning}", file=sys.stderr, flush=True)

    def __repr__(self) -> str:
        size, dtype = self.input_size, np.dtype(self._input.dtype).name
        return (
            f"Classifier({str(self.model_path)!r}, backend={self.backend!r}, "
            f"input={size}x{size}x3 {dtype}, classes={self.num_classes}, "
            f"normalization={self.normalization.source}, resize={self.resize})"
        )

    @property
    def input_size(self) -> int:
        """Side of the square input in pixels."""
        return self._input.shape[1]

    @property
    def input_dtype(self) -> np.dtype:
        return np.dtype(self._input.dtype)

    @property
    def raw_pixels(self) -> bool:
        """Whether pixels go into the input tensor unchanged (a uint8 input)."""
        return self._pixel_table is None and self._float_norm is None

    def preprocess(self, source: str | os.PathLike[str] | bytes | np.ndarray) -> np.ndarray:
        """One image as ``predict`` takes it: ``uint8`` (S, S, 3) after ``resize``.

        ``source`` is an image file (path or its bytes) or a decoded RGB ``uint8``
        (H, W, 3) array of any size. Raises ``DataError`` for an unreadable image.
        """
        if isinstance(source, np.ndarray) and (source.ndim != 3 or source.shape[2] != 3):
            raise ValueError(f"expected an RGB image of shape (H, W, 3), got {source.shape}")
        return self._transform(source, self.input_size)

    def predict(self, batch_uint8: np.ndarray) -> np.ndarray:
        """Class probabilities for preprocessed images.

        Args:
            batch_uint8: ``uint8`` RGB of shape (N, S, S, 3) (or one (S, S, 3)
                image), from ``preprocess`` (or ``eval_transform``) at ``input_size``.

        Returns:
            ``float32`` (N, num_classes), each row summing to 1 (within the
            rounding of a quantized output).
        """
        batch = self._check_batch(batch_uint8)
        step = self._fixed_batch or _MAX_BATCH
        if 0 < len(batch) <= step:  # one chunk: no concatenation copy
            return self._predict_chunk(batch)
        parts = [self._predict_chunk(batch[i : i + step]) for i in range(0, len(batch), step)]
        return np.concatenate(parts) if parts else np.empty((0, self.num_classes), np.float32)

    def classify(
        self, source: str | os.PathLike[str] | bytes | np.ndarray, top: int = 5
    ) -> list[Prediction]:
        """The ``top`` most likely classes, highest first, for one image.

        ``source`` goes through ``preprocess``. Raises ``DataError`` for an
        unreadable image.
        """
        return self.top_k(self.predict(self.preprocess(source)[None])[0], top)

    def top_k(self, probs: np.ndarray, top: int = 5) -> list[Prediction]:
        """Rank one row of ``predict``; ties keep the lower class index first."""
        if top < 1:
            raise ValueError(f"top must be at least 1, got {top}")
        order = ranked_classes(probs, top)[0]
        return [Prediction(self.labels[i], int(i), float(probs[i])) for i in order]

    def _check_batch(self, batch: np.ndarray) -> np.ndarray:
        batch = np.asarray(batch)
        if batch.ndim == 3:
            batch = batch[None]
        size = self.input_size
        if batch.dtype != np.uint8 or batch.shape[1:] != (size, size, 3):
            raise ValueError(
                f"expected uint8 images of shape (N, {size}, {size}, 3) from preprocess, "
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
        self._write_input(pixels)
        self._interpreter.invoke()
        raw = self._interpreter.get_tensor(self._output.index)
        return self._probabilities(raw.reshape(len(raw), -1))[:count]

    def _write_input(self, pixels: np.ndarray) -> None:
        """Fill the input tensor: a float32 input is computed in place, in its own buffer.

        Arithmetic, not a lookup table, for float inputs: the same float32 operations
        per pixel (so the same values as a table), but a 256-entry gather first widens
        every uint8 index to 64 bits and costs 5-10x more than a subtract and a divide.
        Writing into the tensor's buffer saves set_tensor's copy; the view is dropped
        before invoke, which refuses to run while one is alive.
        """
        norm = self._float_norm
        if norm is None:
            self._interpreter.set_tensor(self._input.index, self._model_input(pixels))
            return
        mean, std = norm
        if self._input.dtype != np.float32:  # float16: computed in float32, then rounded
            values = pixels.astype(np.float32) if mean is None else np.subtract(pixels, mean)
            if std is not None:
                np.divide(values, std, out=values)
            self._interpreter.set_tensor(self._input.index, values.astype(self._input.dtype))
            return
        view = self._interpreter.tensor(self._input.index)()
        if mean is None:
            np.copyto(view, pixels)
        else:
            np.subtract(pixels, mean, out=view)
        if std is not None:
            np.divide(view, std, out=view)
        del view

    def _model_input(self, pixels: np.ndarray) -> np.ndarray:
        table = self._pixel_table
        if table is None:
            return pixels
        if table.ndim == 1:
            return table[pixels]
        out = np.empty(pixels.shape, table.dtype)
        for channel in range(3):
            out[..., channel] = table[pixels[..., channel], channel]
        return out

    def _probabilities(self, raw: np.ndarray) -> np.ndarray:
        spec, table = self._output, self._dequantized
        if table is not None:
            scores = table[raw.view(np.uint8)]
        elif spec.quantized:
            scores = (raw.astype(np.float32) - spec.zero_point) * np.float32(spec.scale)
        else:  # get_tensor's own copy: no second one when it is float32 already
            scores = raw if raw.dtype == np.float32 else raw.astype(np.float32)
        return scores if self._softmax_output else _softmax_unless_probabilities(scores)


def _pixel_table(spec: _Tensor, norm: InputNormalization) -> np.ndarray | None:
    """What each pixel value 0-255 becomes in the input tensor, per channel.

    ``None`` when pixels go in unchanged; a (256,) table when every channel is
    normalized alike, else (256, 3). A lookup is exact (the same float32 arithmetic
    as computing it per pixel) and cheaper than the arithmetic on a batch.
    """
    if spec.dtype == np.uint8 and norm.source != _FROM_OPTIONS:
        return None
    if not np.issubdtype(spec.dtype, np.integer):
        return None  # float inputs: _float_normalization
    mean = np.asarray(norm.mean, np.float32)
    std = np.asarray(norm.std, np.float32)
    x = (_PIXELS[:, None] - mean) / std
    if np.issubdtype(spec.dtype, np.integer):
        if spec.quantized:
            x = np.round(x / spec.scale) + spec.zero_point
        limits = np.iinfo(spec.dtype)
        x = np.clip(x, limits.min, limits.max)
    table = x.astype(spec.dtype)
    return table[:, 0].copy() if (table == table[:, :1]).all() else table


def _float_normalization(
    spec: _Tensor, norm: InputNormalization
) -> tuple[np.ndarray | None, np.ndarray | None] | None:
    """float32 ``mean`` and ``std`` for a float input, ``None`` where they change nothing.

    ``None`` for integer inputs. A mean of 0 and a std of 1 are skipped, which is
    exact: ``x - 0`` and ``x / 1`` are ``x`` in float32.
    """
    if np.issubdtype(spec.dtype, np.integer):
        return None
    mean = np.asarray(norm.mean, np.float32)
    std = np.asarray(norm.std, np.float32)
    return (None if not mean.any() else mean, None if (std == 1).all() else std)


def _dequantization_table(spec: _Tensor) -> np.ndarray | None:
    """The float32 score of each of the 256 values of a quantized one-byte output.

    Indexed by the output's bytes (an int8 output viewed as uint8), it gives
    ``(q - zero_point) * scale`` with the same float32 arithmetic as computing it per
    score, in one gather instead of a cast, a subtraction and a multiplication.
    ``None`` for float outputs (and wider integer ones, computed per score).
    """
    if not spec.quantized or np.dtype(spec.dtype).itemsize != 1:
        return None
    values = np.arange(256, dtype=np.uint8).view(spec.dtype).astype(np.float32)
    return (values - spec.zero_point) * np.float32(spec.scale)


def _input_warning(spec: _Tensor, norm: InputNormalization) -> str | None:
    """Why raw pixels may be wrong for this input, when nothing said how to normalize."""
    if norm.source != _ASSUMED:
        return None
    how = "pass --mean/--std (e.g. --mean 127.5 --std 127.5 for a model trained on [-1, 1])"
    if not np.issubdtype(spec.dtype, np.integer):
        return (
            "float input and no normalization in the options, the model's metadata or a "
            f"manifest.json beside it: feeding raw 0-255 pixels; {how}"
        )
    if spec.dtype == np.int8 and spec.quantized:
        top = (np.iinfo(np.int8).max - spec.zero_point) * spec.scale
        if top < 128:  # raw pixels above this value all saturate
            return (
                f"int8 input covers values up to {top:.3g} and nothing says how to "
                f"normalize: raw 0-255 pixels will saturate; {how}"
            )
    return None


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
    if np.dtype(spec.dtype) not in _INPUT_DTYPES:
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
    The three reductions stay in numpy (float32 sums); the comparisons run on their
    Python values against the float32 thresholds, which decides exactly as float32
    comparisons would (a sum within [0.5, 2] minus 1 is exact in float32, and any
    other sum fails either way) at a fraction of the cost of eight tiny numpy calls.
    """
    low = np.minimum.reduce(scores, axis=1)
    high = np.maximum.reduce(scores, axis=1)
    total = np.add.reduce(scores, axis=1)
    is_probs = [
        lo >= _PROB_LOW and hi <= _PROB_HIGH and abs(s - 1) <= _PROB_SUM_TOLERANCE
        for lo, hi, s in zip(low.tolist(), high.tolist(), total.tolist(), strict=True)
    ]
    if all(is_probs):
        return scores
    shifted = np.exp(scores - high[:, None])
    softmax = shifted / shifted.sum(axis=1, keepdims=True)
    return np.where(np.array(is_probs)[:, None], scores, softmax).astype(np.float32)


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
