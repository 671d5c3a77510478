"""Dataset statistics the model and the augmentation need: channel mean/std, RGB PCA.

Computed by streaming over chunks of base images so memory stays flat whatever
the dataset size. Mean/std go into the model's first layer; the PCA basis drives
the paper's colour ("lighting") augmentation (Krizhevsky et al. 2012, sec. 4.1).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

__all__ = ["ChannelStats", "channel_stats"]


@dataclass(frozen=True)
class ChannelStats:
    """Per-channel mean/std in 0-255 units; PCA of RGB pixels scaled to [0, 1]."""

    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    pca_eigval: tuple[float, float, float]
    pca_eigvec: tuple[tuple[float, float, float], ...]
    pixels: int

    def to_dict(self) -> dict[str, object]:
        return {
            "mean": list(self.mean),
            "std": list(self.std),
            "pca_eigval": list(self.pca_eigval),
            "pca_eigvec": [list(r) for r in self.pca_eigvec],
            "pixels": self.pixels,
        }

    @classmethod
    def from_dict(cls, d: dict[str, object]) -> ChannelStats:
        return cls(
            mean=tuple(d["mean"]),  # type: ignore[arg-type]
            std=tuple(d["std"]),  # type: ignore[arg-type]
            pca_eigval=tuple(d["pca_eigval"]),  # type: ignore[arg-type]
            pca_eigvec=tuple(tuple(r) for r in d["pca_eigvec"]),  # type: ignore[union-attr]
            pixels=int(d["pixels"]),  # type: ignore[arg-type]
        )


def channel_stats(images: Iterable[np.ndarray]) -> ChannelStats:
    """Accumulate first and second moments over uint8 RGB images (any shapes).

    Uses float64 sums of x and x x^T, so one pass gives mean, std and the 3x3
    covariance for PCA without holding more than one image at a time.
    """
    count = 0
    total = np.zeros(3, np.float64)
    outer = np.zeros((3, 3), np.float64)
    for img in images:
        px = np.asarray(img, np.float64).reshape(-1, 3)
        count += px.shape[0]
        total += px.sum(axis=0)
        outer += px.T @ px
    if count == 0:
        raise ValueError("no pixels to compute statistics from")
    mean = total / count
    cov = outer / count - np.outer(mean, mean)
    std = np.sqrt(np.maximum(np.diag(cov), 1e-12))
    eigval, eigvec = np.linalg.eigh(cov / 255.0**2)
    order = np.argsort(eigval)[::-1]
    eigval, eigvec = np.maximum(eigval[order], 0.0), eigvec[:, order]
    return ChannelStats(
        mean=tuple(float(v) for v in mean),  # type: ignore[arg-type]
        std=tuple(float(v) for v in std),  # type: ignore[arg-type]
        pca_eigval=tuple(float(v) for v in eigval),  # type: ignore[arg-type]
        pca_eigvec=tuple(tuple(float(v) for v in row) for row in eigvec),  # type: ignore[misc]
        pixels=count,
    )
