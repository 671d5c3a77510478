"""``saliency.png``: validation images, their saliency maps and top-5 against the truth."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from alexedge.report.figures import new_figure, save_png
from alexedge.report.saliency import Saliency

__all__ = ["plot_saliency"]

_PER_ROW = 2  # (image, map, top-5) groups side by side


def plot_saliency(saliency: Saliency, class_names: tuple[str, ...], path: Path) -> Path:
    n = len(saliency.images)
    rows = math.ceil(n / _PER_ROW)
    figure = new_figure(13, 2.3 * rows + 0.5)
    axes = figure.subplots(rows, 3 * _PER_ROW, squeeze=False, width_ratios=[1, 1, 1.6] * _PER_ROW)
    for ax in axes.ravel():
        ax.set_axis_off()
    for i in range(n):
        image_ax, map_ax, text_ax = axes[i // _PER_ROW, 3 * (i % _PER_ROW) :][:3]
        image_ax.imshow(saliency.images[i], interpolation="nearest")
        heat = saliency.maps[i]
        map_ax.imshow(heat / heat.max() if heat.max() > 0 else heat, cmap="hot", vmin=0, vmax=1)
        _top5(text_ax, saliency.probabilities[i], int(saliency.labels[i]), class_names)
    figure.suptitle(
        "Saliency: |d top-class logit / d pixel|, max over colour channels (brighter = more)"
    )
    return save_png(figure, path)


def _top5(ax: Any, probabilities: np.ndarray, label: int, class_names: tuple[str, ...]) -> None:
    ax.text(0, 0.92, f"true: {_short(class_names[label])}", fontsize=8, weight="bold", va="top")
    for k, c in enumerate(np.argsort(-probabilities, kind="stable")[:5]):
        color = "green" if c == label else "black"
        text = f"{k + 1}. {_short(class_names[c])}  {100 * probabilities[c]:.1f}%"
        ax.text(0, 0.74 - 0.16 * k, text, fontsize=8, color=color, va="top")


def _short(name: str, limit: int = 26) -> str:
    """ImageNet names run long ("tench, Tinca tinca"); the panel holds about 26 characters."""
    return name if len(name) <= limit else name[: limit - 1] + "…"
