"""Which images ``alexedge embed`` reads, and what it knows of their classes.

A dataset folder is read by the project's one discovery (``alexedge.data``): labels
come from its layout, in sorted class order, as training assigns them. Image files
given one by one have no class (label ``-1``). With no inputs, a run folder's own
dataset is reloaded with its recorded classes and split.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from alexedge.data.dataset import ImageDataset, load_dataset
from alexedge.data.files import is_image_file
from alexedge.errors import ConfigError, DataError
from alexedge.run import reload_dataset
from alexedge.transfer.feature_file import UNKNOWN_LABEL

__all__ = ["SPLITS", "ImageList", "dataset_images", "resolve_images"]

SPLITS = ("train", "val", "test", "all")


@dataclass(frozen=True)
class ImageList:
    """Files to embed with their labels (``-1``: unknown) and the class names."""

    files: tuple[str, ...]
    labels: np.ndarray
    class_names: tuple[str, ...] = ()


def dataset_images(dataset: ImageDataset, split: str) -> ImageList:
    """One split of a dataset (``all``: train, val and test in that order)."""
    if split not in SPLITS:
        raise ConfigError(f"--split {split!r}: choose one of {', '.join(SPLITS)}")
    parts = ("train", "val", "test") if split == "all" else (split,)
    samples = [s for part in parts for s in getattr(dataset, part)]
    if not samples:
        raise DataError(f"{dataset.root}: the {split} split has no images")
    return ImageList(
        tuple(s.path for s in samples),
        np.array([s.label for s in samples], dtype=np.int64),
        dataset.class_names,
    )


def resolve_images(
    inputs: Sequence[Path], split: str = "val", run_dir: Path | None = None
) -> ImageList:
    """The images of ``inputs``: one dataset folder, or image files (no labels).

    Without inputs, the dataset of the run in ``run_dir``.

    Raises:
        DataError: a missing path, a folder that is no dataset, or a mix of both kinds.
        ConfigError: no inputs and no run, or an unknown split.
    """
    if not inputs:
        if run_dir is None:
            raise ConfigError("give a dataset folder or image files to embed")
        return dataset_images(reload_dataset(run_dir), split)
    missing = [str(p) for p in inputs if not p.exists()]
    if missing:
        raise DataError(f"{missing[0]}: no such file or folder")
    folders = [p for p in inputs if p.is_dir()]
    if len(folders) == 1 and len(inputs) == 1:
        return dataset_images(load_dataset(folders[0]), split)
    if folders:
        raise DataError(
            f"{folders[0]}: give one dataset folder (labels from its class folders) or "
            "image files (no labels), not both or several folders"
        )
    not_images = [str(p) for p in inputs if not is_image_file(p)]
    if not_images:
        raise DataError(f"{not_images[0]}: not an image file (by its suffix)")
    files = tuple(str(p) for p in inputs)
    return ImageList(files, np.full(len(files), UNKNOWN_LABEL, dtype=np.int64))
