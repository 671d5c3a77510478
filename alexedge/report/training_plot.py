"""``training_curves.png``: loss and top-1 per epoch, training and validation, with the LR.

The learning rate sits on a second (log) axis of both panels: the paper's schedule
divides it by 10 on a plateau, and a step in the curves right after a drop is what
tells a reader the schedule, not the model, moved.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alexedge.report.figures import new_figure, save_png

__all__ = ["plot_training_curves"]


def plot_training_curves(curves: dict[str, list[float]], path: Path) -> Path:
    """``curves`` as ``read_curves`` returns them."""
    from matplotlib.ticker import MaxNLocator

    figure = new_figure(11, 4.2)
    loss_ax, top1_ax = figure.subplots(1, 2)
    epochs = curves["epoch"]
    _panel(loss_ax, epochs, curves, ("loss", "val_loss"), 1.0, "loss")
    _panel(top1_ax, epochs, curves, ("top1", "val_top1"), 100.0, "top-1 (%)")
    for ax in (loss_ax, top1_ax):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        handles, labels = ax.get_legend_handles_labels()
        if "lr" in curves:
            lr_ax = ax.twinx()
            (line,) = lr_ax.plot(epochs, curves["lr"], color="grey", ls=":", marker=".")
            lr_ax.set_yscale("log")
            lr_ax.set_ylabel("learning rate (log scale)", color="grey")
            handles, labels = [*handles, line], [*labels, "learning rate"]
        ax.legend(handles, labels, loc="best", fontsize=8)
    loss_ax.set_title("Loss per epoch")
    top1_ax.set_title("Top-1 per epoch")
    return save_png(figure, path)


def _panel(
    ax: Any,
    epochs: list[float],
    curves: dict[str, list[float]],
    columns: tuple[str, str],
    scale: float,
    label: str,
) -> None:
    for column, name in zip(columns, ("training", "validation"), strict=True):
        if column in curves:
            ax.plot(epochs, [scale * v for v in curves[column]], marker="o", ms=3, label=name)
    ax.set_xlabel("epoch")
    ax.set_ylabel(label)
