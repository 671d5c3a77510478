"""Decode a split's files into base images once, in parallel, skipping bad files.

Small and medium datasets (the built-in one, 20-class subsets) fit in memory as
base images (S x S x 3 uint8), so every epoch after decoding runs at in-memory
speed. Corrupt, truncated or empty files are counted and skipped, never fatal.
Splits too large for memory stay on disk instead (``alexedge.data.stream``) and are
decoded every epoch by the same ``read_base_image``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from alexedge.data.dataset import Sample
from alexedge.data.integrity import corrupt_reason
from alexedge.errors import DataError
from alexedge.preprocess import base_image, load_rgb
from alexedge.progress import progress_bar

__all__ = [
    "DecodedSplit",
    "decode_split",
    "decode_workers",
    "memory_shortfall",
    "read_base_image",
]


@dataclass(frozen=True)
class DecodedSplit:
    images: np.ndarray  # (N, S, S, 3) uint8 base images
    labels: np.ndarray  # (N,) int32
    paths: tuple[str, ...]
    skipped: tuple[tuple[str, str], ...]  # (path, reason) for files that could not be used

    def __len__(self) -> int:
        return int(self.labels.shape[0])


def read_base_image(path: str, base_size: int) -> np.ndarray | str:
    """The base image of one file, or why it cannot be used.

    The one definition of a decoded training image: ``decode_split`` and the
    streamed splits (``alexedge.data.stream``) both call it, so an image is the same
    pixels whether it was decoded into memory or read from disk every epoch. A JPEG
    or PNG that Pillow decodes although its data is damaged (``alexedge.data.integrity``)
    is refused, as ``data check`` and ``data fetch`` refuse it.
    """
    try:
        rgb = load_rgb(path)
        with open(path, "rb") as f:
            problem = corrupt_reason(f.read())
    except (DataError, OSError) as e:
        return str(e)
    return f"{path}: {problem}" if problem else base_image(rgb, base_size)


def decode_workers() -> int:
    """Decoding threads: Pillow releases the GIL, so twice the cores, at most 8."""
    return min(8, (os.cpu_count() or 1) * 2)


def _available_memory_bytes() -> int | None:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_AVPHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # not POSIX: no guard
        return None


def memory_shortfall(count: int, base_size: int) -> str | None:
    """Why ``count`` base images would not fit in half the free memory; None if they fit."""
    needed = count * base_size * base_size * 3
    available = _available_memory_bytes()
    if available is None or needed <= available // 2:
        return None
    return (
        f"{count:,} images at {base_size}x{base_size} need {needed / 1e9:.1f} GB decoded, "
        f"more than half of the {available / 1e9:.1f} GB free"
    )


def _check_fits_in_memory(count: int, base_size: int) -> None:
    shortfall = memory_shortfall(count, base_size)
    if shortfall is not None:
        raise DataError(
            f"{shortfall}; use a class subset (--classes / --classes-file), a smaller input "
            "size, or decode from disk every epoch instead (alexedge train --input stream)"
        )


def decode_split(
    samples: Sequence[Sample], base_size: int, description: str = "decoding"
) -> DecodedSplit:
    """Decode and resize every sample; Pillow releases the GIL, so threads scale.

    Refuses, before decoding anything, a split whose base images would not fit in
    half of this machine's memory: better one clear message than an OOM kill an
    hour into a run.
    """
    _check_fits_in_memory(len(samples), base_size)
    with ThreadPoolExecutor(decode_workers()) as pool:
        results = list(
            progress_bar(
                pool.map(lambda s: read_base_image(s.path, base_size), samples),
                description,
                total=len(samples),
            )
        )
    keep = [i for i, r in enumerate(results) if isinstance(r, np.ndarray)]
    skipped = tuple(
        (samples[i].path, r) for i, r in enumerate(results) if not isinstance(r, np.ndarray)
    )
    if not keep:
        raise DataError(f"none of the {len(samples)} images could be read ({skipped[0][1]})")
    images = np.stack([results[i] for i in keep])  # type: ignore[misc]
    labels = np.asarray([samples[i].label for i in keep], np.int32)
    return DecodedSplit(images, labels, tuple(samples[i].path for i in keep), skipped)
