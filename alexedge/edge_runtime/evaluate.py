"""Accuracy of an exported ``.tflite`` file, measured the way a phone would run it.

The pipeline calls ``evaluate_tflite`` on every exported variant with the
validation split, so float32, float16 and int8 files are compared on the same
pixels (the shared ``eval_transform``) through the same interpreter code as the
``classify`` command, not through Keras.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from alexedge.edge_runtime.classifier import Classifier
from alexedge.errors import DataError
from alexedge.metrics import ranked_classes, top_k_scores
from alexedge.preprocess import eval_transform
from alexedge.progress import progress_bar

__all__ = ["EvalResult", "evaluate_images", "evaluate_tflite", "predict_images"]

_BATCH = 32


@dataclass(frozen=True)
class EvalResult:
    """Top-1 and top-5 accuracy as fractions of ``count`` samples.

    ``predictions`` holds the top-1 class index of every sample in sample order,
    so agreement with another variant is ``(a.predictions == b.predictions).mean()``.
    With fewer than five classes, top-5 counts the top ``num_classes``.
    """

    top1: float
    top5: float
    count: int
    predictions: np.ndarray = field(repr=False, compare=False)
    probs: np.ndarray | None = field(default=None, repr=False, compare=False)


def evaluate_tflite(
    model_path: str | os.PathLike[str],
    samples: Sequence[tuple[str, int]] | Sequence[Any],
    *,
    threads: int | None = None,
    progress: bool = True,
    keep_probs: bool = False,
) -> EvalResult:
    """Run a ``.tflite`` classifier over labelled images and score it.

    Args:
        model_path: the exported model.
        samples: ``(path, label)`` pairs or objects with ``.path`` and ``.label``
            (``alexedge.data.Sample``); labels are output indices of the model.
        threads: interpreter CPU threads.
        progress: draw a progress bar on stderr.
        keep_probs: also return the (N, num_classes) probabilities, for callers
            that need more than top-1 (they cost N x classes x 4 bytes).

    Raises:
        ModelError: the model cannot be used. DataError: no samples, a label
            outside the model's classes, or an unreadable image (the validation
            split is expected to be clean, so evaluation stops at the first one).
    """
    paths, labels = _unpack(samples)
    classifier = Classifier(model_path, threads=threads)
    bad = (labels < 0) | (labels >= classifier.num_classes)
    if bad.any():
        first = int(np.argmax(bad))
        raise DataError(
            f"{paths[first]}: label {labels[first]} is outside the "
            f"{classifier.num_classes} classes of {model_path}"
        )
    items = progress_bar(paths, f"evaluating {Path(model_path).name}") if progress else paths
    return _result(_probs_for_files(classifier, items), labels, keep_probs)


def evaluate_images(
    model_path: str | os.PathLike[str],
    images_uint8: np.ndarray,
    labels: np.ndarray,
    *,
    threads: int | None = None,
) -> EvalResult:
    """Score a ``.tflite`` classifier on images that are already model input.

    For many files of one validation split measured again and again (every variant
    of ``alexedge compress``): decoded once, cropped by ``center_crops``, which gives
    exactly ``eval_transform``'s pixels (``tests/test_preprocess_parity.py``), then fed
    through the same ``Classifier`` as files are.
    """
    labels = np.asarray(labels, np.int64)
    if len(labels) == 0:
        raise DataError("no images to evaluate")
    classifier = Classifier(model_path, threads=threads)
    return _result(classifier.predict(images_uint8), labels, keep_probs=False)


def _result(probs: np.ndarray, labels: np.ndarray, keep_probs: bool) -> EvalResult:
    scores = top_k_scores(probs, labels)
    return EvalResult(
        top1=scores["top1"],
        top5=scores["top5"],
        count=len(labels),
        predictions=ranked_classes(probs, 1)[:, 0],
        probs=probs if keep_probs else None,
    )


def predict_images(
    classifier: Classifier, images_uint8: np.ndarray | Sequence[np.ndarray]
) -> np.ndarray:
    """Probabilities for images that are already model input, (N, num_classes).

    No preprocessing is applied: this is for comparing the TFLite file with the
    Keras model on exactly the same arrays (agreement, numerical checks). Images
    must be ``uint8`` (S, S, 3) at ``classifier.input_size``.
    """
    batch = np.stack(images_uint8) if not isinstance(images_uint8, np.ndarray) else images_uint8
    return classifier.predict(batch)


def _unpack(samples: Sequence[Any]) -> tuple[list[str], np.ndarray]:
    if len(samples) == 0:
        raise DataError("no samples to evaluate")
    pairs = [(s.path, s.label) if hasattr(s, "path") else (s[0], s[1]) for s in samples]
    return [str(p) for p, _ in pairs], np.array([int(y) for _, y in pairs], dtype=np.int64)


def _probs_for_files(classifier: Classifier, paths: Iterable[str]) -> np.ndarray:
    parts: list[np.ndarray] = []
    pending: list[np.ndarray] = []
    for path in paths:
        pending.append(eval_transform(path, classifier.input_size))
        if len(pending) == _BATCH:
            parts.append(classifier.predict(np.stack(pending)))
            pending = []
    if pending:
        parts.append(classifier.predict(np.stack(pending)))
    return np.concatenate(parts)
