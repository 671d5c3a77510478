"""Everything ``alexedge compress`` needs from a run folder, validated before any write.

Bad input (no trained model, a dataset that moved, a representative folder without
one readable image) must fail with one clear line and leave the run folder exactly
as it was, so every check and every decode happens here, before the first file is
written. The training split is decoded only when a fine-tune needs it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from alexedge.config import config_from_dict
from alexedge.data.dataset import ImageDataset
from alexedge.data.decode import DecodedSplit, decode_split
from alexedge.data.files import list_images
from alexedge.data.stats import ChannelStats
from alexedge.errors import ConfigError, DataError
from alexedge.preprocess import base_size_for, eval_transform
from alexedge.progress import say
from alexedge.run import BEST_MODEL, DATA_STATS, TRAIN_CONFIG, check_trained_run, reload_dataset
from alexedge.train.config import TrainConfig

__all__ = ["RunInputs", "load_calibration", "load_run_inputs"]

# Calibration draws from this many candidates at most, so a huge folder with a few
# good images is not decoded in full.
_CANDIDATE_FACTOR = 4


@dataclass
class RunInputs:
    """The trained model and data of a run, with the split decoded lazily for fine-tunes."""

    run_dir: Path
    model: Any  # keras.Model
    train_config: TrainConfig
    stats: ChannelStats
    dataset: ImageDataset
    val_split: DecodedSplit
    calibration: np.ndarray  # (N, S, S, 3) uint8, exactly eval_transform's output
    _train_split: DecodedSplit | None = field(default=None, repr=False)

    @property
    def decoded_train(self) -> DecodedSplit | None:
        """The training split if a fine-tune has decoded it, else ``None``."""
        return self._train_split

    def train_split(self) -> DecodedSplit:
        if self._train_split is None:
            base = base_size_for(self.train_config.input_size)
            self._train_split = decode_split(self.dataset.train, base, "decoding train images")
        return self._train_split


def _read_json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise DataError(f"{path}: unreadable ({e})") from e


def load_calibration(
    candidates: list[str], input_size: int, count: int, seed: int, where: str
) -> np.ndarray:
    """Up to ``count`` images through ``eval_transform``, skipping unreadable files.

    Candidates are shuffled with ``seed`` so the representative set spans the classes.
    """
    if not candidates:
        raise DataError(f"{where}: no image files for the representative dataset")
    order = np.random.default_rng(seed).permutation(len(candidates))
    images, reasons = [], []
    for i in order[: count * _CANDIDATE_FACTOR]:
        try:
            images.append(eval_transform(candidates[i], input_size))
        except DataError as e:
            reasons.append(str(e))
        if len(images) == count:
            break
    if not images:
        raise DataError(
            f"{where}: none of the {len(reasons)} image files tried could be read ({reasons[0]})"
        )
    return np.stack(images)


def _calibration(
    representative: Path | None, dataset: ImageDataset, size: int, count: int, seed: int
) -> np.ndarray:
    if representative is None:
        paths = [s.path for s in dataset.train]
        return load_calibration(paths, size, count, seed, f"{dataset.root} (training images)")
    if not representative.is_dir():
        raise DataError(f"{representative}: no such representative dataset folder")
    paths = [str(p) for p in list_images(representative)]
    return load_calibration(paths, size, count, seed, str(representative))


def load_run_inputs(
    run_dir: Path,
    calibration_images: int,
    seed: int,
    representative: Path | None = None,
    data_root: Path | None = None,
    decoded: tuple[DecodedSplit, DecodedSplit] | None = None,
) -> RunInputs:
    """Check and load the run; the expensive, TensorFlow-bound steps come last.

    ``decoded``: the run's (train, val) splits already in memory, as ``train_run``
    left them for the pipeline; they must be the run's own dataset at its base size.
    """
    check_trained_run(run_dir)
    if representative is not None and not representative.is_dir():
        raise DataError(f"{representative}: no such representative dataset folder")
    try:
        train_config = config_from_dict(TrainConfig, _read_json(run_dir / TRAIN_CONFIG))
    except (TypeError, ConfigError) as e:
        raise DataError(f"{run_dir / TRAIN_CONFIG}: not a training config ({e})") from e
    stats = ChannelStats.from_dict(_read_json(run_dir / DATA_STATS))
    dataset = reload_dataset(run_dir, data_root)
    size = train_config.input_size
    calibration = _calibration(representative, dataset, size, calibration_images, seed)
    if len(calibration) < calibration_images:
        say(
            f"note: calibrating int8 with {len(calibration)} images "
            f"(fewer than the {calibration_images} asked for)"
        )
    from alexedge.train.loop import load_model  # TensorFlow loads only from here on
    from alexedge.train.precision import float32_model

    # A mixed-precision run's model computes in bfloat16/float16: the converter then
    # fails on bf16 ops and the int8 calibration is wrong, so compress its float32 twin.
    model = float32_model(load_model(run_dir / BEST_MODEL))
    if decoded is not None:
        train, val = decoded
        return RunInputs(run_dir, model, train_config, stats, dataset, val, calibration, train)
    val_split = decode_split(dataset.val, base_size_for(size), "decoding val images")
    return RunInputs(run_dir, model, train_config, stats, dataset, val_split, calibration)
