"""Decode a dataset's splits once and compute the statistics the model and augmentation need.

Shared by ``alexedge train`` and the pipeline's decode stage, so both normalize with
statistics of the same images and record the run's dataset the same way.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from alexedge.atomic import write_json, write_text
from alexedge.data.dataset import ImageDataset
from alexedge.data.decode import DecodedSplit, decode_split
from alexedge.data.stats import ChannelStats, channel_stats
from alexedge.preprocess import base_size_for
from alexedge.run import DATA_STATS, write_dataset_ref

__all__ = ["SKIPPED_FILES", "PreparedData", "prepare_data", "write_data_files"]

SKIPPED_FILES = "skipped_files.txt"


@dataclass(frozen=True)
class PreparedData:
    dataset: ImageDataset
    train: DecodedSplit
    val: DecodedSplit
    stats: ChannelStats  # of the training images only: validation stays unseen

    @property
    def skipped(self) -> tuple[tuple[str, str], ...]:
        return self.train.skipped + self.val.skipped


def prepare_data(
    dataset: ImageDataset, input_size: int, stats: ChannelStats | None = None
) -> PreparedData:
    """Decode train and val into base images for ``input_size`` (``base_size_for``).

    ``stats`` are reused when given (a resumed run keeps the statistics its
    checkpoint was normalized with); otherwise computed from the training images.
    """
    base = base_size_for(input_size)
    train = decode_split(dataset.train, base, "decoding train images")
    val = decode_split(dataset.val, base, "decoding val images")
    return PreparedData(dataset, train, val, stats or channel_stats(train.images))


def write_data_files(run_dir: Path, data: PreparedData, val_fraction: float, seed: int) -> None:
    """``data_stats.json``, the dataset reference (``alexedge.run``) and skipped files."""
    write_json(run_dir / DATA_STATS, data.stats.to_dict())
    write_dataset_ref(run_dir, data.dataset, val_fraction, seed)
    for _, reason in data.skipped:
        print(f"[alexedge] skipped unreadable file: {reason}", file=sys.stderr, flush=True)
    if data.skipped:
        write_text(run_dir / SKIPPED_FILES, "".join(f"{p}\t{r}\n" for p, r in data.skipped))
