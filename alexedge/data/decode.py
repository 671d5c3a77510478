"""Decode a split's files into base images once, in parallel, skipping bad files.

Small and medium datasets (the built-in one, 20-class subsets) fit in memory as
base images (S x S x 3 uint8), so every epoch after decoding runs at in-memory
speed. Corrupt, truncated or empty files are counted and skipped, never fatal.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from alexedge.data.dataset import Sample
from alexedge.errors import DataError
from alexedge.preprocess import base_image, load_rgb
from alexedge.progress import progress_bar

__all__ = ["DecodedSplit", "decode_split"]


@dataclass(frozen=True)
class DecodedSplit:
    images: np.ndarray  # (N, S, S, 3) uint8 base images
    labels: np.ndarray  # (N,) int32
    paths: tuple[str, ...]
    skipped: tuple[tuple[str, str], ...]  # (path, reason) for files that could not be used

    def __len__(self) -> int:
        return int(self.labels.shape[0])


def _decode_one(sample: Sample, base_size: int) -> np.ndarray | str:
    try:
        return base_image(load_rgb(sample.path), base_size)
    except DataError as e:
        return str(e)


def _available_memory_bytes() -> int | None:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_AVPHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # not POSIX: no guard
        return None


def _check_fits_in_memory(count: int, base_size: int) -> None:
    needed = count * base_size * base_size * 3
    available = _available_memory_bytes()
    if available is not None and needed > available // 2:
        raise DataError(
            f"{count:,} images at {base_size}x{base_size} need {needed / 1e9:.1f} GB decoded, "
            f"more than half of the {available / 1e9:.1f} GB free; use a class subset "
            "(--classes / --classes-file) or a smaller input size"
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
    workers = min(8, (os.cpu_count() or 1) * 2)
    with ThreadPoolExecutor(workers) as pool:
        results = list(
            progress_bar(
                pool.map(lambda s: _decode_one(s, base_size), samples),
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
