"""Splits that stay on disk: paths and labels, decoded into base images whenever read.

For datasets whose base images do not fit in memory (all of ImageNet needs about
250 GB at 256x256), a ``FileSplit`` keeps only the file list; training decodes it
every epoch (``alexedge.train.sources``) and evaluation decodes it in chunks here,
both with ``read_base_image``, so the pixels equal ``decode_split``'s. Unreadable
files cannot be known before they are read: they are dropped where they are met and
named once on stderr (``SkipLog``). The training split's statistics pass
(``scan_split``) meets them all first, so training streams only readable files.
"""

from __future__ import annotations

import sys
import threading
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TypeAlias

import numpy as np

from alexedge.data.dataset import Sample
from alexedge.data.decode import DecodedSplit, decode_workers, read_base_image
from alexedge.data.stats import ChannelStats, channel_stats
from alexedge.errors import ConfigError, DataError
from alexedge.progress import progress_bar

__all__ = [
    "FileSplit",
    "SkipLog",
    "Split",
    "base_image_chunks",
    "file_split",
    "prepare_cache_dir",
    "scan_split",
]


@dataclass(frozen=True)
class FileSplit:
    """Files whose base images (``base_size`` square, uint8) are decoded when read."""

    paths: tuple[str, ...]
    labels: np.ndarray  # (N,) int32
    base_size: int
    skipped: tuple[tuple[str, str], ...] = ()  # (path, reason) already known unreadable

    def __len__(self) -> int:
        return len(self.paths)


# What training and evaluation accept: base images in memory, or files to decode.
Split: TypeAlias = DecodedSplit | FileSplit


def file_split(samples: Sequence[Sample], base_size: int) -> FileSplit:
    """A split of ``samples`` that decodes nothing until it is read."""
    labels = np.asarray([s.label for s in samples], np.int32)
    return FileSplit(tuple(s.path for s in samples), labels, base_size)


class SkipLog:
    """Unreadable files met while streaming; each is named on stderr once, when first met.

    Thread-safe: decoding threads and tf.data's parallel map report into it.
    """

    def __init__(self, echo: bool = True) -> None:
        self._echo = echo
        self._reasons: dict[str, str] = {}
        self._lock = threading.Lock()

    def __call__(self, path: str, reason: str) -> None:
        with self._lock:
            if path in self._reasons:
                return
            self._reasons[path] = reason
        if self._echo:
            print(f"[alexedge] skipped unreadable file: {reason}", file=sys.stderr, flush=True)

    @property
    def skipped(self) -> tuple[tuple[str, str], ...]:
        with self._lock:
            return tuple(self._reasons.items())


def base_image_chunks(
    split: Split,
    chunk_size: int,
    description: str | None = None,
    skips: SkipLog | None = None,
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """``(images (b, S, S, 3) uint8, labels (b,))`` chunks of the readable images, in order.

    A ``FileSplit`` is decoded by a few threads a little ahead of the consumer, never
    more than a few chunks at once, so memory stays flat for any split size; its
    unreadable files go to ``skips``. Both kinds of split give the same chunks when
    they hold the same readable files.
    """
    if isinstance(split, DecodedSplit):
        for start in range(0, len(split), chunk_size):
            stop = start + chunk_size
            yield split.images[start:stop], split.labels[start:stop]
        return
    skips = skips if skips is not None else SkipLog()
    results: Iterable[np.ndarray | str] = _decode_in_order(split.paths, split.base_size)
    if description:
        results = progress_bar(results, description, total=len(split))
    images: list[np.ndarray] = []
    labels: list[int] = []
    for path, label, result in zip(split.paths, split.labels, results, strict=True):
        if isinstance(result, str):
            skips(path, result)
            continue
        images.append(result)
        labels.append(int(label))
        if len(images) == chunk_size:
            yield np.stack(images), np.asarray(labels, np.int32)
            images, labels = [], []
    if images:
        yield np.stack(images), np.asarray(labels, np.int32)


def _decode_in_order(paths: Sequence[str], base_size: int) -> Iterator[np.ndarray | str]:
    workers = decode_workers()
    with ThreadPoolExecutor(workers) as pool:
        pending: deque[Future[np.ndarray | str]] = deque()
        for path in paths:
            pending.append(pool.submit(read_base_image, path, base_size))
            if len(pending) >= 4 * workers:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


def scan_split(split: FileSplit, description: str) -> tuple[ChannelStats, FileSplit]:
    """Channel statistics in one streaming pass, and the split without its unreadable files.

    This pass is the first read of every training file, so it is where the unreadable
    ones are found; dropping them here keeps every later epoch the same length.
    """
    skips = SkipLog(echo=False)  # ``PreparedData.skipped`` reports them with the others
    chunks = base_image_chunks(split, 64, description, skips)
    try:
        stats = channel_stats(images for images, _ in chunks)
    except ValueError:  # no pixels: not one file could be read
        reason = skips.skipped[0][1] if skips.skipped else "the split is empty"
        raise DataError(f"none of the {len(split)} images could be read ({reason})") from None
    bad = {path for path, _ in skips.skipped}
    keep = [i for i, path in enumerate(split.paths) if path not in bad]
    readable = FileSplit(
        tuple(split.paths[i] for i in keep),
        split.labels[keep],
        split.base_size,
        split.skipped + skips.skipped,
    )
    return stats, readable


def prepare_cache_dir(cache_dir: str) -> Path | None:
    """The decoded-image cache folder, created if missing; None when no cache was asked for.

    Raises:
        ConfigError: the path is a file, or the folder cannot be created.
    """
    if not cache_dir:
        return None
    path = Path(cache_dir)
    if path.exists() and not path.is_dir():
        raise ConfigError(f"--cache-dir {path}: exists and is not a folder")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ConfigError(f"--cache-dir {path}: cannot create the folder ({e})") from e
    return path
