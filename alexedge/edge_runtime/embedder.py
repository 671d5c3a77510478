"""Feature vectors from an embedder ``.tflite`` (``alexedge package RUN --embedder``), TF-free.

An embedder file is the trained network cut at one layer, its map global-average-pooled
to a vector: what MediaPipe Tasks' ``ImageEmbedder`` runs on a phone. This class computes
the same vectors on any machine with numpy, Pillow and a TFLite interpreter, from the
same preprocessing as training (``alexedge.preprocess``), so ``alexedge embed`` on a
``.tflite`` gives what the Keras model gives and what the phone gives.

Vectors are returned raw (not L2-normalised): cosine similarity does not care, and
MediaPipe's ``l2_normalize`` option normalises on the phone when an app wants it.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from alexedge.edge_runtime.classifier import RESIZE_MODES, decide_normalization
from alexedge.edge_runtime.interpreter import load_interpreter
from alexedge.edge_runtime.metadata import read_metadata
from alexedge.errors import ConfigError, ModelError

__all__ = ["Embedder", "cosine_similarity"]

# Images per invoke for a model with a dynamic batch: bounds activation memory.
_MAX_BATCH = 32
# What ``layer`` says when the file has no metadata naming its output.
_UNNAMED = "output"


class Embedder:
    """One vector per image from a ``.tflite`` whose single output is a feature vector.

    Args:
        model_path: the embedder file (ours, or any image model with one vector output).
        threads: interpreter threads (``None``: the backend's choice).
        resize: ``crop`` (shorter side, centre crop: what training validated on) or
            ``squash``, as for ``Classifier``.

    Raises:
        ModelError: the file is not a TFLite model with one RGB image input (uint8 or
            float32, the types MediaPipe takes) and one output.
    """

    def __init__(
        self, model_path: str | os.PathLike[str], threads: int | None = None, resize: str = "crop"
    ) -> None:
        if resize not in RESIZE_MODES:
            raise ConfigError(f"resize must be one of {', '.join(RESIZE_MODES)}, got {resize!r}")
        self.model_path = Path(model_path)
        self._transform = RESIZE_MODES[resize]
        self._interpreter, self.backend = load_interpreter(self.model_path, threads)
        self._input, self._dynamic = _input_details(self._interpreter, self.model_path)
        self._output = _output_details(self._interpreter, self.model_path)
        self.dimensions = int(np.prod(self._output["shape"][1:]))
        norm = decide_normalization(self.model_path)
        self._mean = np.asarray(norm.mean, np.float32)
        self._std = np.asarray(norm.std, np.float32)
        metadata = read_metadata(self.model_path)
        self.layer = (metadata.output.name if metadata else "") or _UNNAMED
        self._batch = int(self._input["shape"][0])

    @property
    def input_size(self) -> int:
        return int(self._input["shape"][1])

    @property
    def input_dtype(self) -> np.dtype:
        return np.dtype(self._input["dtype"])

    def preprocess(self, source: str | os.PathLike[str] | bytes | np.ndarray) -> np.ndarray:
        """One image as ``embed`` takes it: ``uint8`` (S, S, 3)."""
        return self._transform(source, self.input_size)

    def embed(self, batch_uint8: np.ndarray) -> np.ndarray:
        """``float32`` (N, dimensions) for ``uint8`` (N, S, S, 3) preprocessed images."""
        batch = np.asarray(batch_uint8)
        batch = batch[None] if batch.ndim == 3 else batch
        size = self.input_size
        if batch.dtype != np.uint8 or batch.shape[1:] != (size, size, 3):
            raise ValueError(
                f"expected uint8 images of shape (N, {size}, {size}, 3), "
                f"got {batch.dtype} {batch.shape}"
            )
        step = _MAX_BATCH if self._dynamic else 1
        parts = [self._invoke(batch[i : i + step]) for i in range(0, len(batch), step)]
        return np.concatenate(parts) if parts else np.empty((0, self.dimensions), np.float32)

    def embed_files(self, paths: Iterable[str | os.PathLike[str]]) -> np.ndarray:
        """Vectors of image files, in order; ``DataError`` names an unreadable one."""
        pixels = [self.preprocess(path) for path in paths]
        if not pixels:
            return np.empty((0, self.dimensions), np.float32)
        return self.embed(np.stack(pixels))

    def _invoke(self, pixels: np.ndarray) -> np.ndarray:
        if len(pixels) != self._batch:
            self._interpreter.resize_tensor_input(self._input["index"], list(pixels.shape))
            self._interpreter.allocate_tensors()
            self._batch = len(pixels)
        self._interpreter.set_tensor(self._input["index"], self._model_input(pixels))
        self._interpreter.invoke()
        raw = self._interpreter.get_tensor(self._output["index"])
        return _dequantize(raw, self._output).reshape(len(pixels), -1)

    def _model_input(self, pixels: np.ndarray) -> np.ndarray:
        # A uint8 input takes the pixel bytes as they are (its quantization describes the
        # normalized range, as MediaPipe reads it); a float input takes (pixels - mean) / std.
        if self._input["dtype"] == np.uint8:
            return pixels
        return ((pixels.astype(np.float32) - self._mean) / self._std).astype(np.float32)


def cosine_similarity(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise cosine of two (N, D) arrays (0 where a row is all zeros)."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    norms = np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)
    dots = np.sum(a * b, axis=1)
    return np.divide(dots, norms, out=np.zeros_like(dots), where=norms > 0)


def _input_details(interpreter: Any, path: Path) -> tuple[dict[str, Any], bool]:
    inputs = interpreter.get_input_details()
    if len(inputs) != 1:
        raise ModelError(f"{path}: an embedder has one image input, this model has {len(inputs)}")
    spec = inputs[0]
    shape = tuple(int(d) for d in spec["shape"])
    if len(shape) != 4 or shape[1] != shape[2] or shape[3] != 3:
        raise ModelError(f"{path}: expected a square RGB image input (N, S, S, 3), got {shape}")
    if np.dtype(spec["dtype"]) not in (np.uint8, np.float32):
        raise ModelError(
            f"{path}: input type {np.dtype(spec['dtype']).name}; an embedder takes uint8 or "
            "float32 (the types MediaPipe's ImageEmbedder accepts)"
        )
    signature = spec.get("shape_signature", spec["shape"])
    return spec, int(signature[0]) == -1


def _output_details(interpreter: Any, path: Path) -> dict[str, Any]:
    outputs = interpreter.get_output_details()
    if len(outputs) != 1:
        raise ModelError(
            f"{path}: an embedder has one feature-vector output, this model has {len(outputs)}"
        )
    return outputs[0]


def _dequantize(raw: np.ndarray, spec: dict[str, Any]) -> np.ndarray:
    scale, zero_point = spec.get("quantization", (0.0, 0))
    if np.issubdtype(raw.dtype, np.integer) and scale > 0:
        return ((raw.astype(np.float32) - np.float32(zero_point)) * np.float32(scale)).astype(
            np.float32
        )
    return raw.astype(np.float32)
