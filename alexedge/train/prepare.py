"""Load a dataset's splits and compute the statistics the model and augmentation need.

Shared by ``alexedge train`` and the pipeline's decode stage, so both normalize with
statistics of the same images and record the run's dataset the same way. A split is
decoded once into memory when it fits, or else streamed from its files every epoch
(``TrainConfig.input_mode``).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from alexedge.atomic import write_json, write_text
from alexedge.data.dataset import ImageDataset, Sample
from alexedge.data.decode import decode_split, memory_shortfall
from alexedge.data.stats import ChannelStats, channel_stats
from alexedge.data.stream import FileSplit, Split, file_split, scan_split
from alexedge.errors import ConfigError
from alexedge.preprocess import base_size_for
from alexedge.run import DATA_STATS, write_dataset_ref
from alexedge.train.config import INPUT_MODES

__all__ = ["SKIPPED_FILES", "PreparedData", "load_split", "prepare_data", "write_data_files"]

SKIPPED_FILES = "skipped_files.txt"


@dataclass(frozen=True)
class PreparedData:
    dataset: ImageDataset
    train: Split
    val: Split
    stats: ChannelStats  # of the training images only: validation stays unseen

    @property
    def skipped(self) -> tuple[tuple[str, str], ...]:
        return self.train.skipped + self.val.skipped


def prepare_data(
    dataset: ImageDataset,
    input_size: int,
    stats: ChannelStats | None = None,
    input_mode: str = "auto",
) -> PreparedData:
    """Train and val as base images for ``input_size`` (``base_size_for``), per ``input_mode``.

    ``stats`` are reused when given (a resumed run keeps the statistics its
    checkpoint was normalized with); otherwise computed from the training images, by
    one streaming pass over the files when the training split is streamed.
    """
    base = base_size_for(input_size)
    train = load_split(dataset.train, base, input_mode, "train")
    val = load_split(dataset.val, base, input_mode, "val")
    if stats is None and isinstance(train, FileSplit):
        stats, train = scan_split(train, "computing statistics of the train images")
    elif stats is None:
        stats = channel_stats(train.images)
    return PreparedData(dataset, train, val, stats)


def load_split(samples: Sequence[Sample], base_size: int, input_mode: str, name: str) -> Split:
    """Decode ``samples`` into memory, or keep them as files to stream (see ``INPUT_MODES``).

    "auto" streams only a split whose base images would need more than half the free
    memory, and says so in one line; "memory" refuses such a split with ``DataError``.
    """
    if input_mode not in INPUT_MODES:
        raise ConfigError(f"--input must be one of {', '.join(INPUT_MODES)}, got {input_mode!r}")
    if input_mode == "auto":
        shortfall = memory_shortfall(len(samples), base_size)
        if shortfall is not None:
            print(
                f"[alexedge] {name}: {shortfall}: streaming them from disk every epoch "
                "(--input stream; --cache-dir keeps them decoded on disk)",
                file=sys.stderr,
                flush=True,
            )
            input_mode = "stream"
    if input_mode == "stream":
        return file_split(samples, base_size)
    return decode_split(samples, base_size, f"decoding {name} images")


def write_data_files(run_dir: Path, data: PreparedData, val_fraction: float, seed: int) -> None:
    """``data_stats.json``, the dataset reference (``alexedge.run``) and skipped files.

    The skipped files are those known now: all of a decoded split's and of a scanned
    training stream's. A streamed split read without a scan (val, or train on resume)
    names its unreadable files on stderr when it meets them.
    """
    write_json(run_dir / DATA_STATS, data.stats.to_dict())
    write_dataset_ref(run_dir, data.dataset, val_fraction, seed)
    for _, reason in data.skipped:
        print(f"[alexedge] skipped unreadable file: {reason}", file=sys.stderr, flush=True)
    if data.skipped:
        write_text(run_dir / SKIPPED_FILES, "".join(f"{p}\t{r}\n" for p, r in data.skipped))
