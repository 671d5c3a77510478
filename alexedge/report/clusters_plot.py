"""``clusters.png``: the images on their first two principal components, coloured by class.

Coloured by the true class rather than by k-means cluster: the picture is there to show
whether the classes separate in the representation at all, which the scores above it
(adjusted mutual information, purity) summarise. Up to 20 classes get a legend; beyond
that the colours repeat and the legend would hide the points.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from alexedge.report.figures import new_figure, save_png

if TYPE_CHECKING:
    from alexedge.transfer.clusters import ClusterResult

__all__ = ["plot_clusters"]

_LEGEND_CLASSES = 20


def plot_clusters(result: ClusterResult, path: Path) -> Path:
    figure = new_figure(7.5, 6.0)
    ax = figure.add_subplot()
    colours = _colours(max(len(result.class_names), 1))
    labels = result.labels if len(result.labels) == len(result.points) else None
    if labels is None or not (labels >= 0).any():
        ax.scatter(result.points[:, 0], result.points[:, 1], s=8, color="0.3", alpha=0.7)
    else:
        for index, name in enumerate(result.class_names):
            mask = labels == index
            if mask.any():
                ax.scatter(
                    result.points[mask, 0],
                    result.points[mask, 1],
                    s=8,
                    color=colours[index % len(colours)],
                    alpha=0.7,
                    label=name,
                )
        if len(result.class_names) <= _LEGEND_CLASSES:
            ax.legend(fontsize=7, markerscale=2, loc="best", frameon=False)
    ax.set_xlabel("principal component 1")
    ax.set_ylabel("principal component 2")
    score = "" if result.ami is None else f"; k-means (k={result.clusters}) AMI {result.ami:.2f}"
    ax.set_title(f"{result.layer} features of {result.images} images{score}", fontsize=10)
    return save_png(figure, path)


def _colours(count: int) -> list[tuple[float, ...]]:
    from matplotlib import colormaps

    cmap = colormaps["tab20" if count > 10 else "tab10"]
    return [tuple(cmap(i % cmap.N)) for i in range(min(count, cmap.N))] or [(0.3, 0.3, 0.3, 1.0)]
