"""``confusion.png``: the float Keras model's row-normalized confusion matrix.

Row-normalized so each row reads as "of the images of this class, the share predicted
as each class": classes of different sizes compare directly. Drawn only up to 50
classes; beyond that the cells are too small to read.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from alexedge.report.figures import new_figure, save_png

__all__ = ["MAX_CONFUSION_CLASSES", "confusion_matrix", "plot_confusion"]

MAX_CONFUSION_CLASSES = 50


def confusion_matrix(labels: np.ndarray, predictions: np.ndarray, num_classes: int) -> np.ndarray:
    """``(true, predicted)`` shares; a class without images keeps a row of zeros."""
    counts = np.zeros((num_classes, num_classes), np.float64)
    np.add.at(counts, (labels, predictions), 1)
    totals = counts.sum(axis=1, keepdims=True)
    return np.divide(counts, totals, out=np.zeros_like(counts), where=totals > 0)


def plot_confusion(matrix: np.ndarray, class_names: tuple[str, ...], path: Path) -> Path:
    n = len(matrix)
    side = min(12.0, 3.0 + 0.3 * n)
    figure = new_figure(side + 1.2, side)
    ax = figure.add_subplot()
    image = ax.imshow(matrix, cmap="Blues", vmin=0, vmax=1)
    figure.colorbar(image, ax=ax, shrink=0.8, label="share of the true class's images")
    ticks = np.arange(n)
    ax.set_xticks(ticks, class_names if n <= 30 else ticks, rotation=90, fontsize=7)
    ax.set_yticks(ticks, class_names if n <= 30 else ticks, fontsize=7)
    if n <= 12:
        for (i, j), value in np.ndenumerate(matrix):
            color = "white" if value > 0.5 else "black"
            ax.text(j, i, f"{value:.2f}", ha="center", va="center", fontsize=8, color=color)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    ax.set_title("Confusion of the float Keras model (rows sum to 1)")
    return save_png(figure, path)
