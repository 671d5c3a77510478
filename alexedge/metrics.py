"""Top-k accuracy, defined once for Keras evaluation, compression, the edge runtime and reports.

Ties are ranked by a stable sort, so among equal scores the lower class index comes
first, exactly as ``argmax`` and ``Classifier.top_k`` order them. A quantized uint8
softmax makes ties common (scores move in steps of 1/256): with any other tie rule
the same variant would score differently depending on which code path measured it.
numpy only: the edge runtime uses it without TensorFlow.
"""

from __future__ import annotations

import numpy as np

__all__ = ["ranked_classes", "top_k_accuracy", "top_k_scores"]


def ranked_classes(probs: np.ndarray, k: int) -> np.ndarray:
    """The ``k`` best class indices per row, best first; ties keep the lower index first.

    ``k`` is capped at the number of classes.
    """
    probs = np.asarray(probs)
    if probs.ndim == 1:
        probs = probs[None]
    k = max(1, min(k, probs.shape[1]))
    return np.argsort(-probs, axis=1, kind="stable")[:, :k]


def top_k_accuracy(probs: np.ndarray, labels: np.ndarray, k: int) -> float:
    """Share of rows whose label is among the ``k`` best classes (0.0 for no rows)."""
    labels = np.asarray(labels).reshape(-1)
    if len(labels) == 0:
        return 0.0
    hits = np.any(ranked_classes(probs, k) == labels[:, None], axis=1)
    return float(np.mean(hits))


def top_k_scores(probs: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """``{"top1", "top5"}``: the pair every report shows (top-5 caps at the class count)."""
    return {"top1": top_k_accuracy(probs, labels, 1), "top5": top_k_accuracy(probs, labels, 5)}
