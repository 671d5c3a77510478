"""Shared plumbing of the report's pictures: a figure, saved atomically as a PNG.

Figures are ``matplotlib.figure.Figure`` objects drawn on the Agg canvas, never
``pyplot``: pyplot keeps global state and picks a GUI backend, which a library must not
impose on a notebook or a headless server. matplotlib is imported here, lazily, so
``import alexedge.report`` stays light and works without the ``report`` extra.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

from alexedge.atomic import atomic_path

__all__ = ["DPI", "have_matplotlib", "new_figure", "save_png"]

DPI = 110


def have_matplotlib() -> bool:
    return importlib.util.find_spec("matplotlib") is not None


def new_figure(width: float, height: float) -> Any:
    """An Agg-backed figure of ``width`` x ``height`` inches with constrained layout."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def save_png(figure: Any, path: Path) -> Path:
    with atomic_path(path) as tmp:
        figure.savefig(tmp, format="png", dpi=DPI)
    return path
