"""``conv1_filters.png``: the first convolution's kernels as colour tiles.

The view of Krizhevsky et al. 2012, Figure 3. Each kernel is scaled to its own
range: a shared scale would leave most small-norm kernels uniformly grey.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from alexedge.report.figures import new_figure, save_png

__all__ = ["filter_tiles", "first_conv_kernel", "plot_conv1_filters"]


def first_conv_kernel(model: object) -> tuple[str, np.ndarray] | None:
    """``(layer name, kernel (kh, kw, in, out))`` of the first Conv2D in graph order."""
    import tf_keras as keras

    for layer in model.layers:  # type: ignore[attr-defined]
        if isinstance(layer, keras.layers.Conv2D) and not isinstance(
            layer, keras.layers.DepthwiseConv2D
        ):
            return layer.name, layer.kernel.numpy()
    return None


def filter_tiles(kernel: np.ndarray) -> np.ndarray:
    """``(out, kh, kw, 3)`` tiles in [0, 1], each scaled by its own min and max.

    A kernel with other than 3 input channels is shown as the grey mean over them.
    """
    tiles = np.moveaxis(kernel.astype(np.float32), -1, 0)  # (out, kh, kw, in)
    if tiles.shape[-1] != 3:
        tiles = np.repeat(tiles.mean(axis=-1, keepdims=True), 3, axis=-1)
    low = tiles.min(axis=(1, 2, 3), keepdims=True)
    span = tiles.max(axis=(1, 2, 3), keepdims=True) - low
    return np.divide(tiles - low, span, out=np.full_like(tiles, 0.5), where=span > 0)


def plot_conv1_filters(name: str, kernel: np.ndarray, path: Path) -> Path:
    tiles = filter_tiles(kernel)
    columns = min(16, len(tiles))
    rows = math.ceil(len(tiles) / columns)
    figure = new_figure(0.6 * columns + 0.4, 0.6 * rows + 0.6)
    axes = np.atleast_1d(figure.subplots(rows, columns, squeeze=False)).ravel()
    for ax in axes:
        ax.set_axis_off()
    for ax, tile in zip(axes, tiles, strict=False):
        ax.imshow(tile, interpolation="nearest")
    kh, kw, channels, out = kernel.shape
    figure.suptitle(f"{name}: {out} kernels of {kh}x{kw}x{channels}, each scaled to its range")
    return save_png(figure, path)
